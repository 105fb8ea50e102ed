"""The ``--threads`` option of the benchmark scripts."""

import torch

import sklearn_pertlearn

HELP = (
    "threads of every call (default: the library's policy by size); 1 is steadier "
    "on a busy machine"
)


def add_threads_option(parser, help=HELP):
    parser.add_argument("--threads", type=int, default=None, help=help)


def force_threads(n_threads):
    """Run torch and every call of the library on ``n_threads``; None changes nothing."""
    if n_threads is not None:
        torch.set_num_threads(n_threads)
        # The library's own thread policy would otherwise pick per call.
        sklearn_pertlearn.set_config(n_threads=n_threads)
