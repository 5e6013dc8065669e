"""Every output file goes through one routine (``portable_net.io.open_output``): a regular file
is replaced whole and only if it could be written, a device or FIFO is written through, a
symlink's target is replaced, and an output that is one of the inputs is refused first."""

from __future__ import annotations

import os
import stat
import sys
import threading

import numpy as np
import pytest

import portable_net as pn
from portable_net.io import check_output, open_output, write_output
from tests.test_cli_more import call

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX files: FIFOs, links")


def _params():
    return pn.init_params([2, 6, 3], seed=3)


def _read_fifo(fifo, sink: list) -> threading.Thread:
    """A reader of the FIFO in a thread, waiting for its writer; what it reads goes to sink."""

    def read():
        with open(fifo, "rb") as f:
            sink.append(f.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _assert_same_model(path, params):
    loaded, _ = pn.load(path)
    for key in params:
        np.testing.assert_array_equal(loaded[key], params[key])


# --- the library: pn.save and Classifier.save -----------------------------------------------


def test_a_read_only_file_is_refused_even_for_root(tmp_path):
    path = tmp_path / "kept.npz"
    path.write_bytes(b"precious")
    path.chmod(0o444)
    with pytest.raises(PermissionError, match="read-only") as info:
        pn.save(path, _params())
    assert str(path) in str(info.value)
    assert path.read_bytes() == b"precious"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.npz"]  # no temporary file


def test_classifier_save_refuses_a_read_only_file(tmp_path):
    model = pn.save(tmp_path / "m.npz", _params())
    clf = pn.Classifier.load(model)
    target = tmp_path / "clf.npz"
    target.write_bytes(b"precious")
    target.chmod(0o444)
    with pytest.raises(PermissionError, match="read-only"):
        clf.save(target)
    assert target.read_bytes() == b"precious"


def test_a_writable_file_is_replaced_with_its_permissions(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"old")
    path.chmod(0o640)
    params = _params()
    assert pn.save(path, params) == path
    _assert_same_model(path, params)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize("through_link", [False, True])
def test_a_fifo_is_written_through_not_replaced(tmp_path, through_link):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = fifo
    if through_link:
        target = tmp_path / "link.npz"
        target.symlink_to(fifo)
    got: list[bytes] = []
    reader = _read_fifo(fifo, got)
    params = _params()
    pn.save(target, params)
    reader.join(10)
    assert not reader.is_alive() and len(got) == 1
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a FIFO, not a regular file
    assert target.is_symlink() == through_link
    copy = tmp_path / "copy.npz"
    copy.write_bytes(got[0])
    _assert_same_model(copy, params)


def test_a_link_to_a_character_device_is_written_through(tmp_path):
    link = tmp_path / "null.npz"
    link.symlink_to(os.devnull)
    pn.save(link, _params())
    assert link.is_symlink() and os.readlink(link) == os.devnull
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_link_to_a_regular_file_replaces_the_file_it_points_to(tmp_path):
    real = tmp_path / "models" / "real.npz"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    params = _params()
    pn.save(link, params)
    assert link.is_symlink() and link.resolve() == real
    _assert_same_model(real, params)
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.npz"]


def test_a_read_only_file_behind_a_link_is_refused(tmp_path):
    real = tmp_path / "real.npz"
    real.write_bytes(b"precious")
    real.chmod(0o444)
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    with pytest.raises(PermissionError):
        pn.save(link, _params())
    assert real.read_bytes() == b"precious" and link.is_symlink()


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError):
        pn.save(tmp_path, _params())


def test_an_output_that_is_an_input_is_refused_before_writing(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("1,2,0\n")
    hard = tmp_path / "hard.csv"
    os.link(data, hard)
    calls = []
    for target in (data, hard, str(data)):
        with pytest.raises(ValueError, match="it is the input"):
            write_output(target, calls.append, inputs=[str(data)])
        with pytest.raises(ValueError, match="it is the input"):
            check_output(target, inputs=[data])
    assert calls == [] and data.read_text() == "1,2,0\n"
    write_output(tmp_path / "other.csv", lambda f: f.write(b"x"), inputs=[data, None, "-"])


def test_an_interrupted_write_leaves_the_file_and_no_temporary_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("before")

    def interrupted(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_output(path, interrupted)
    assert path.read_text() == "before"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_an_interrupt_as_the_temporary_file_is_made_leaves_nothing_behind(tmp_path, monkeypatch):
    """A signal raised just after the temporary file exists, before its name is returned
    (the command raises signals where the program is): the file is removed on the way out;
    a name already taken is skipped, and that file is left alone."""
    path = tmp_path / "out.txt"
    path.write_text("before")
    real_open = os.open
    made = []

    def open_then_interrupt(name, flags, *args, **kwargs):
        if flags & os.O_EXCL and not made:  # the first name: someone else's file
            made.append(name)
            with open(name, "w") as other:
                other.write("theirs")
        fd = real_open(name, flags, *args, **kwargs)
        if flags & os.O_EXCL:
            os.close(fd)
            raise KeyboardInterrupt
        return fd

    monkeypatch.setattr(os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_output(path, lambda f: f.write(b"new"))
    monkeypatch.undo()
    assert path.read_text() == "before"
    theirs = os.path.basename(made[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.txt", theirs])
    assert (tmp_path / theirs).read_text() == "theirs"


def test_text_output_streams_to_a_new_file(tmp_path):
    path = tmp_path / "rows.csv"
    with open_output(path, encoding="utf-8") as f:
        for i in range(3):
            f.write(f"{i},é\n")
        assert not path.exists()  # appears whole, once complete
    assert path.read_bytes() == "0,é\n1,é\n2,é\n".encode()


# --- the command line: exit 2 before any work ------------------------------------------------


def _spiral_csv(path):
    X, y = pn.make_spiral(10, 3, seed=0)
    rows = "".join(f"{a!r},{b!r},{c}\n" for (a, b), c in zip(X.tolist(), y.tolist()))
    path.write_text("x0,x1,label\n" + rows)
    return path.read_bytes()


def test_train_refuses_to_save_over_its_data(tmp_path):
    data = tmp_path / "arms.csv"
    before = _spiral_csv(data)
    status, out, err = call("train", "--data", str(data), "--save", str(data), "--steps", "5")
    assert status == 2, err
    assert "it is the input" in err and len(err.strip().splitlines()) == 1
    assert out == ""  # refused before training
    assert data.read_bytes() == before


def test_train_refuses_a_read_only_save_file(tmp_path):
    target = tmp_path / "m.npz"
    target.write_bytes(b"precious")
    target.chmod(0o444)
    status, out, err = call("train", "--steps", "5", "--hidden", "4", "--save", str(target))
    assert status == 2 and "read-only" in err and out == "", err
    assert target.read_bytes() == b"precious"


@pytest.fixture
def saved(tmp_path):
    model = pn.save(tmp_path / "m.npz", _params())
    points = tmp_path / "p.csv"
    points.write_text("0.5,0.5\n-0.3,0.1\n")
    return model, points


@pytest.mark.parametrize("which", ["model", "points"])
def test_predict_refuses_an_output_that_is_an_input(saved, which):
    model, points = saved
    target = model if which == "model" else points
    before = target.read_bytes()
    status, _, err = call("predict", str(model), str(points), "--output", str(target))
    assert status == 2 and "it is the input" in err, err
    assert target.read_bytes() == before


def test_predict_writes_through_a_fifo(saved, tmp_path):
    model, points = saved
    fifo = tmp_path / "labels"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _read_fifo(fifo, got)
    status, _, err = call("predict", str(model), str(points), "--output", str(fifo))
    reader.join(10)
    assert status == 0, err
    expected = pn.predict(_params(), np.array([[0.5, 0.5], [-0.3, 0.1]])).tolist()
    assert got == ["".join(f"{label}\n" for label in expected).encode()]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


# --- diverged runs save nothing unless asked ------------------------------------------------

DIVERGING = ["--optimizer", "adam", "--lr", "300", "--steps", "200", "--log-every", "50"]


def test_a_run_that_ended_worse_than_it_started_saves_no_model(tmp_path):
    target = tmp_path / "m.npz"
    status, out, err = call("train", *DIVERGING, "--save", str(target))
    assert status == 1, err
    assert "training ended worse than it started" in err
    assert f"the model was not saved to {str(target)!r}" in err and "--save-anyway" in err
    assert not target.exists() and "model saved" not in out
    assert "Traceback" not in err


def test_save_anyway_saves_the_diverged_model(tmp_path):
    target = tmp_path / "m.npz"
    status, _, err = call("train", *DIVERGING, "--save", str(target), "--save-anyway")
    assert status == 1 and "training ended worse than it started" in err, err
    assert "not saved" not in err
    _, meta = pn.load(target)
    assert meta["history"]["final_loss"] > 1.1 * meta["history"]["loss"][0]


def test_save_anyway_needs_save():
    status, _, err = call("train", "--save-anyway", "--steps", "1")
    assert status == 2 and "--save-anyway: needs --save" in err


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="no /dev/stdout here")
@pytest.mark.parametrize("stdout", ["pipe", "file"])
def test_predict_output_dev_stdout_writes_to_the_process_stdout(saved, tmp_path, stdout):
    import subprocess

    model, points = saved
    cmd = [sys.executable, "-m", "portable_net", "predict", str(model), str(points)]
    cmd += ["--output", "/dev/stdout"]
    expected = "".join(
        f"{label}\n"
        for label in pn.predict(_params(), np.array([[0.5, 0.5], [-0.3, 0.1]])).tolist()
    )
    if stdout == "pipe":
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout == expected
        return
    target = tmp_path / "labels.txt"
    target.write_text("kept\n")
    with open(target, "a") as out:  # as the shell's >> opens it
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert target.read_text() == "kept\n" + expected
    assert not target.is_symlink() and stat.S_ISREG(target.stat().st_mode)
