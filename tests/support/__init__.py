"""Test and benchmark support that is not part of the installed packages: fakes and simulators."""
