"""A stand-in for ``gdk component build`` (GDK CLI 1.6.2, zip build system), usable where GDK is not.

GDK is not on PyPI, so CI and fresh machines cannot install it; this package reproduces what its zip
build writes (zip-build/ and greengrass-build/) so the output can be published or deployed the same
way. Each component folder also still builds with the real ``gdk component build``.
"""

GDK_CLI_VERSION = "1.6.2"
