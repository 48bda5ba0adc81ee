# street2shop: `make demo` and `make test` do their whole set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLUGIN_ID := $(shell $(PYTHON) -c "import json; print(json.load(open('plugin.json'))['id'])")
PLUGIN_VERSION := $(shell $(PYTHON) -c "import json; print(json.load(open('plugin.json'))['version'])")

.PHONY: demo test plugin bench clean browser photos datasets person-models

$(STAMP): code-env/python/spec/requirements.txt pyproject.toml code-env/python/desc.json
	@$(PYTHON) -c "import json, sys; v = 'PYTHON%d%d' % sys.version_info[:2]; ok = v in json.load(open('code-env/python/desc.json'))['acceptedPythonInterpreters']; print(('' if ok else 'warning: ') + 'python ' + v + (' is' if ok else ' is not') + ' an accepted interpreter of the code env')"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP) person-models
	$(BIN)/street2shop demo --out demo-output

test: $(STAMP) browser photos datasets person-models
	$(BIN)/python -m pytest -q

# The web page is tested in Debian's Chromium, driven through chromedriver.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "install Debian's chromium and chromium-driver (as root: apt-get install chromium chromium-driver) for the web page test"; fi

# Real photographs for the tests and benchmarks: Debian's opencv-doc samples (never committed).
photos:
	@if [ -f /usr/share/doc/opencv-doc/examples/data/apple.jpg ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends opencv-doc >/dev/null; \
	else echo "install Debian's opencv-doc (as root: apt-get install opencv-doc) for the real-photo tests"; fi

# The person model (MediaPipe's pose TFLite files, Apache-2.0): pip downloads the mediapipe wheel once,
# its two .tflite files are extracted into $(VENV)/share/street2shop/person-models (git-ignored) and
# checked against the SHA-256 in street2shop/segmentation/person_files.py. Nothing is fetched during a run.
person-models: $(STAMP)
	$(BIN)/python -m street2shop.segmentation.person_files

# Real product photos for the Fashion-MNIST test and benchmark: Debian's dataset-fashion-mnist (Expat licence).
datasets:
	@if [ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	else echo "install Debian's dataset-fashion-mnist (as root: apt-get install dataset-fashion-mnist) for the Fashion-MNIST test"; fi

bench: $(STAMP) photos datasets person-models
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# The DSS plugin archive, without tests (as Dataiku's own plugins are built).
plugin:
	@$(PYTHON) -c "import json; json.load(open('plugin.json'))"
	mkdir -p dist
	rm -f dist/dss-plugin-$(PLUGIN_ID)-$(PLUGIN_VERSION).zip
	git archive -o dist/dss-plugin-$(PLUGIN_ID)-$(PLUGIN_VERSION).zip HEAD
	zip -q --delete dist/dss-plugin-$(PLUGIN_ID)-$(PLUGIN_VERSION).zip "tests/*" "bench/*" ".ci/*" || true
	@echo "built dist/dss-plugin-$(PLUGIN_ID)-$(PLUGIN_VERSION).zip"

clean:
	rm -rf $(VENV) dist demo-output bench/results .pytest_cache
