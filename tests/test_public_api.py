import portable_net


def test_all_is_sorted_and_importable():
    assert portable_net.__all__ == sorted(portable_net.__all__)
    for name in portable_net.__all__:
        assert hasattr(portable_net, name), name


def test_public_names_are_documented():
    for name in portable_net.__all__:
        obj = getattr(portable_net, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"


def test_the_issue_s_names_are_public():
    expected = {
        "get_namespace",
        "available_backends",
        "make_spiral",
        "init_params",
        "softmax_cross_entropy",
        "loss_and_grads",
        "train",
        "predict_proba",
        "predict",
        "accuracy",
        "gradient_check",
        "Classifier",
        "Regressor",
        "TrainingDiverged",
    }
    assert expected <= set(portable_net.__all__)
