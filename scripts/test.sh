#!/usr/bin/env bash
# Set everything up (with the test, eval, train and ui extras) and run the tests.
# The real-data tier (tests/real) runs when ../shared/data exists, and is skipped otherwise.
. "$(dirname "$0")/_env.sh" "test,eval,train,ui"
python -m pytest -q -p no:cacheprovider "$@"
