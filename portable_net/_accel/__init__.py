"""Optional library-specific layers over the portable step; each must give its numbers."""
