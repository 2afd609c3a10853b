"""The CLI run in-process, for the CLI tests: `from cli_run import run`."""
from gitscore.cli import main


def run(capsys, *argv):
    """main(argv) -> (exit code, stdout, stderr); argparse exits become codes, arguments become strings."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err
