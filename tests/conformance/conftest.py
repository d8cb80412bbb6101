"""Shared fixtures of the simulator conformance suite.

The suite drives Baton's forge simulators with the real client libraries
(python-gitlab, PyGithub) exactly as a user's script would. It is started
by `tests/e2e/conformance.rs`, which runs the simulators on loopback and
passes where they are through the environment:

    BATON_CONFORMANCE_TOKEN          the token every simulator requires
    BATON_CONFORMANCE_GITLAB_URL     GitLab (merge commit method), its base URL
    BATON_CONFORMANCE_GITLAB_REPO    ... and its bare repository
    BATON_CONFORMANCE_GITLAB_FF_URL  GitLab (fast-forward method)
    BATON_CONFORMANCE_GITLAB_FF_REPO
    BATON_CONFORMANCE_GITHUB_URL     GitHub (API root)
    BATON_CONFORMANCE_GITHUB_REPO

Every bare repository starts with `main` holding `values.yaml`. Tests share
the simulators, so each one works on branches of its own (`branch()`).
"""

import itertools
import os
import subprocess

import pytest

GITLAB_PROJECT = "acme/gitops-env"
GITLAB_PROJECT_ID = 42
GITHUB_REPOSITORY = "acme/gitops-env"

_names = itertools.count(1)


def env(name):
    value = os.environ.get(f"BATON_CONFORMANCE_{name}")
    if not value:
        pytest.fail(f"BATON_CONFORMANCE_{name} is not set: run this suite through tests/e2e/conformance.rs")
    return value


def git(repo, *args, stdin=None):
    """Runs git in `repo` and returns its trimmed stdout."""
    out = subprocess.run(
        ["git", "-C", repo, *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {out.stderr}")
    return out.stdout.strip()


class Repo:
    """A bare repository the simulator serves, changed with git plumbing."""

    def __init__(self, path):
        self.path = path

    def head(self, branch):
        return git(self.path, "rev-parse", f"refs/heads/{branch}")

    def commit(self, branch, parent, files, message):
        """Commits `files` (name -> text) on top of `parent` (or of the
        parent's tree with `files` replaced) and points `branch` at it."""
        entries = {}
        if parent:
            for line in git(self.path, "ls-tree", parent).splitlines():
                meta, name = line.split("\t", 1)
                entries[name] = meta
        for name, text in files.items():
            blob = git(self.path, "hash-object", "-w", "--stdin", stdin=text)
            entries[name] = f"100644 blob {blob}"
        listing = "".join(f"{meta}\t{name}\n" for name, meta in sorted(entries.items()))
        tree = git(self.path, "mktree", stdin=listing)
        args = ["commit-tree", tree, "-m", message]
        if parent:
            args += ["-p", parent]
        sha = git(self.path, *args)
        git(self.path, "update-ref", f"refs/heads/{branch}", sha)
        return sha

    def branch(self, prefix, base="main"):
        """A new branch off `base` whose one commit adds a file of its own
        (so that branches of different tests never conflict); returns its
        name and head."""
        name = f"{prefix}-{next(_names)}"
        file = name.replace("/", "-")
        sha = self.commit(name, self.head(base), {f"{file}.txt": f"{name}\n"}, f"{name}: add its file")
        return name, sha

    def parents(self, sha):
        return git(self.path, "rev-list", "--parents", "-n", "1", sha).split()[1:]

    def message(self, sha):
        return git(self.path, "log", "-1", "--format=%B", sha)


@pytest.fixture(scope="session")
def token():
    return env("TOKEN")


@pytest.fixture
def gitlab_repo():
    return Repo(env("GITLAB_REPO"))


@pytest.fixture
def gitlab_ff_repo():
    return Repo(env("GITLAB_FF_REPO"))


@pytest.fixture
def github_repo():
    return Repo(env("GITHUB_REPO"))
