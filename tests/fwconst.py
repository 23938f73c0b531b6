"""Constants shared by the test suites (importable as `fwconst`, unlike a conftest)."""

API_KEY = "fw-test-0123456789abcdef-SECRET"
ACCOUNT = "acme"
AWS_ACCOUNT = "123456789012"
