# soapsms: `make run` starts a demo gateway, `make test` runs every check.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The demo's store, for `make run` only (exported to every recipe it would
# also reach the processes the tests start). SOAPSMS_DATABASE_URL wins if set.
DEMO_DB ?= $(or $(SOAPSMS_DATABASE_URL),sqlite:///var/soapsms-demo.db)
RUN_ENV := SOAPSMS_DATABASE_URL=$(DEMO_DB)

.PHONY: run test lint bench wsdl clean

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
	@echo
	@echo "Demo account: demo / demo-password. Once it is up, send a first message from another terminal:"
	@echo "  $(BIN)/python -c 'import zeep; print(zeep.Client(\"http://127.0.0.1:8000/soap?wsdl\").service.SendMessage(Auth={\"AccountId\": \"demo\", \"Password\": \"demo-password\"}, Message={\"Text\": \"Hello from soapsms\", \"RecipientsText\": \"+17036069996\"}))'"
	@echo "(README.md, Quick start, shows GetStatus too.)"
	@echo "E-mail to SMS: mail the id:/password:/message:/numbers/end format to email@localhost at 127.0.0.1:2525 (docs/email.md)."
	@echo
	$(RUN_ENV) $(BIN)/soapsms serve --bind 127.0.0.1:8000 --workers 2

lint: $(STAMP)
	$(BIN)/ruff check soapsms tests
	$(BIN)/lint-imports
	$(BIN)/mypy soapsms/domain soapsms/store soapsms/usecases soapsms/smtp_ingress soapsms/dispatch soapsms/config.py soapsms/errors.py soapsms/metrics.py

test: lint
	$(BIN)/python -m pytest tests

# Benchmarks, not tests: SOAP throughput and latency (needs wrk), the SMPP
# connector against smpplib alone, and the dispatcher end to end (need node/npm).
bench: $(STAMP)
	$(BIN)/python tests/bench/run.py
	$(BIN)/python tests/bench/smpp_bench.py
	$(BIN)/python tests/bench/dispatch_bench.py

wsdl: $(STAMP)
	$(BIN)/soapsms wsdl --out wsdl/

clean:
	rm -rf $(VENV) var build *.egg-info
