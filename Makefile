# soapsms: `make run` starts a demo gateway, `make test` runs every check.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The demo's store, for `make run` only (exported to every recipe it would
# also reach the processes the tests start). SOAPSMS_DATABASE_URL wins if set.
DEMO_DB ?= $(or $(SOAPSMS_DATABASE_URL),sqlite:///var/soapsms-demo.db)
# The demo sends through the built-in simulator, which fakes deliveries.
RUN_ENV := SOAPSMS_DATABASE_URL=$(DEMO_DB) SOAPSMS_CARRIER=simulator

.PHONY: run test lint fuzz bench sites chaos wsdl clean

$(STAMP): setup.cfg setup.py
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "soapsms needs Python 3.11 (spyne 2.14 does not import on 3.12+); set PYTHON=..."'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	mkdir -p var
	$(RUN_ENV) $(BIN)/soapsms db upgrade
	$(RUN_ENV) $(BIN)/soapsms account create demo --password demo-password --name "Demo account" --exist-ok
	$(RUN_ENV) $(BIN)/soapsms admin create operator --password operator-password --exist-ok
	@echo
	@echo "Demo account: demo / demo-password. Once it is up, send a first message from another terminal:"
	@echo "  $(BIN)/python -c 'import zeep; print(zeep.Client(\"http://127.0.0.1:8000/soap?wsdl\").service.SendMessage(Auth={\"AccountId\": \"demo\", \"Password\": \"demo-password\"}, Message={\"Text\": \"Hello from soapsms\", \"RecipientsText\": \"+17036069996\"}))'"
	@echo "(README.md, Quick start, shows GetStatus too.)"
	@echo "Web: the customer portal at http://127.0.0.1:8000/portal/ (demo / demo-password), the operator console at http://127.0.0.1:8000/admin/ (operator / operator-password)."
	@echo "E-mail to SMS: mail the id:/password:/message:/numbers/end format to email@localhost at 127.0.0.1:2525 (docs/email.md)."
	@echo
	$(RUN_ENV) $(BIN)/soapsms serve --bind 127.0.0.1:8000 --workers 2

lint: $(STAMP)
	$(BIN)/ruff check soapsms tests
	$(BIN)/lint-imports
	$(BIN)/mypy soapsms/domain soapsms/store soapsms/usecases soapsms/web soapsms/smtp_ingress soapsms/snpp_ingress soapsms/dispatch soapsms/config soapsms/errors.py soapsms/metrics.py soapsms/limits.py soapsms/loop_server.py

test: lint
	$(BIN)/python -m pytest tests

# The SOAP fuzz test at 100,000 cases (make test runs 2,000); ~7 minutes.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=100000 $(BIN)/python -m pytest tests/test_security_fuzz.py -q

# Benchmarks, not tests: SOAP throughput and latency (needs wrk), the SMPP
# connector against smpplib alone, the dispatcher end to end (need node/npm), and
# the portal's and the console's pages on 10^6 messages (web_bench.py, admin_bench.py).
# The revision the dispatcher A/B compares with: main before issue 13's work.
BENCH_BASE ?= 68335db

bench: $(STAMP)
	$(BIN)/python tests/bench/run.py
	$(BIN)/python tests/bench/smpp_bench.py
	$(BIN)/python tests/bench/dispatch_bench.py
	$(BIN)/python tests/bench/dispatch_ab.py --base $(BENCH_BASE)
	$(BIN)/python tests/bench/web_bench.py
	$(BIN)/python tests/bench/admin_bench.py

# Two sites in network namespaces (needs root, iproute2, PostgreSQL's server
# binaries): the failover scenarios at full size and their table (tests/sites).
sites: $(STAMP)
	$(BIN)/python -m tests.sites.run

# Issue 13's fault scenarios against real processes and the npm SMSC, one table
# each, non-zero exit when a target is missed (needs node/npm and PostgreSQL).
# 10,000 messages a scenario; `make chaos CHAOS_ARGS=--quick` runs 1,000.
chaos: $(STAMP)
	$(BIN)/python tests/chaos/run.py $(CHAOS_ARGS)

wsdl: $(STAMP)
	$(BIN)/soapsms wsdl --out wsdl/

clean:
	rm -rf $(VENV) var build *.egg-info
