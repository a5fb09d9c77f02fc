# CivicGrid — the README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
SCALE  ?= small

.PHONY: demo test lint bench install migrate messages clean serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput -v 0

demo: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/python manage.py serve --port $(PORT)

serve: migrate
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/python manage.py serve --port $(PORT)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m bench.run --scale $(SCALE)

messages: install
	$(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete \
		--ignore='.venv/*' --ignore='var/*' --ignore='bench/*' --ignore='static/*'
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore='.venv/*'

clean:
	rm -rf var .pytest_cache
