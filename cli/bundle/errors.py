"""The error of a bundle that cannot be built, shared by the zip and its bytecode."""


class BundleError(Exception):
    """The inputs cannot make a valid bundle: no wheel, a wheel we cannot unpack or that reaches outside its
    own names, two files with one name."""
