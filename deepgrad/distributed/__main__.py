"""``python -m deepgrad.distributed -n N [--hosts H1,H2 | --hostfile F] COMMAND ...``: run
COMMAND on N ranks under ``mpiexec`` (Horovod's ``horovodrun -np N``), naming the rank that
failed if the job ends badly."""
import argparse
import sys

from .launch import run


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m deepgrad.distributed",
                                description="Run a command on N MPI ranks.")
    p.add_argument("-n", "-np", "--workers", dest="workers", type=int, required=True)
    p.add_argument("--hosts", default=None, help="comma-separated machines")
    p.add_argument("--hostfile", default=None, help="an MPI hostfile")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if not args.command:
        p.error("give the command to run, e.g. python train.py")
    try:
        return run(args.command, args.workers, hosts=args.hosts, hostfile=args.hostfile)
    except (FileNotFoundError, ValueError) as e:
        print(f"deepgrad.distributed: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
