"""Options every test directory may use."""


def pytest_addoption(parser):
    parser.addoption("--fuzz-count", type=int, default=None,
                     help="malformed events per input topic in the fuzz tests (also NEWSFLOW_FUZZ_COUNT)")
