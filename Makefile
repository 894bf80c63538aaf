# Conveniences for people; each target wraps a script that also works alone.
.PHONY: env demo test bench
env:
	scripts/setup-env
demo:
	scripts/demo
test:
	scripts/run-tests
bench:
	scripts/with-env seal-ros bench all
