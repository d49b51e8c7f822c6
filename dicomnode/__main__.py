"""``python -m dicomnode``: the same command line as the ``dicomnode`` script."""

from dicomnode.cli import main

main()
