"""The GitHub simulator driven by PyGithub, as a user's script would: the
repository (read eagerly), branches, commits and statuses, pull requests
(create, duplicate, get, list with filters, order and pages, labels,
comments, drafts, close and reopen), every merge method, `is_merged()`,
and auto-merge through GraphQL: refused on a pull request that can merge
now, armed on one whose required checks are pending, merged once they
pass."""

import github
import pytest
from github import Auth

from conftest import GITHUB_REPOSITORY, env


def client(token, **options):
    return github.Github(base_url=env("GITHUB_URL"), auth=Auth.Token(token), **options)


@pytest.fixture
def repo(token):
    return client(token).get_repo(GITHUB_REPOSITORY)


def open_pr(repo, git_repo, prefix, base="main", **extra):
    name, sha = git_repo.branch(prefix, base=base)
    pr = repo.create_pull(base=base, head=name, title=f"promote {name}", body="Promote it.", **extra)
    return pr, name, sha


def protected_base(repo, git_repo, prefix):
    """A base branch of the test's own (off main) whose protection requires
    the status check `ci`."""
    name = f"{prefix}-base"
    git_repo.commit(name, git_repo.head("main"), {}, f"{name}: a base of its own")
    repo.get_branch(name).edit_protection(strict=False, contexts=["ci"])
    return name


def test_the_repository_is_read_eagerly(token, github_repo):
    repo = client(token).get_repo(GITHUB_REPOSITORY)
    assert repo.full_name == GITHUB_REPOSITORY
    assert repo.owner.login == "acme"
    assert repo.default_branch == "main"
    assert repo.allow_auto_merge is True
    with pytest.raises(github.UnknownObjectException):
        client(token).get_repo("acme/elsewhere")
    assert repo.get_branch("main").commit.sha == github_repo.head("main")


def test_matching_refs_are_the_refs_starting_with_the_name(repo, github_repo):
    first, first_sha = github_repo.branch("refs-under/a")
    second, _ = github_repo.branch("refs-under/b")
    github_repo.branch("refs-underneath")
    refs = list(repo.get_git_matching_refs("heads/refs-under/"))
    assert [r.ref for r in refs] == [f"refs/heads/{first}", f"refs/heads/{second}"]
    assert refs[0].object.sha == first_sha
    assert refs[0].object.type == "commit"
    assert list(repo.get_git_matching_refs("heads/no-such-prefix/")) == []


def test_a_branch_ref_is_deleted_once(repo, github_repo):
    name, _ = github_repo.branch("delete/me")
    (ref,) = repo.get_git_matching_refs(f"heads/{name}")
    ref.delete()
    assert list(repo.get_git_matching_refs(f"heads/{name}")) == []
    with pytest.raises(github.GithubException) as gone:
        ref.delete()
    assert gone.value.status == 422
    assert gone.value.data["message"] == "Reference does not exist"


def test_a_wrong_token_is_refused(token):
    with pytest.raises(github.BadCredentialsException):
        client(token + "-wrong").get_repo(GITHUB_REPOSITORY)


def test_commits_and_statuses(repo, github_repo):
    name, sha = github_repo.branch("status")
    commit = repo.get_commit(sha)
    assert commit.sha == sha
    assert commit.commit.message == f"{name}: add its file"
    assert [p.sha for p in commit.parents] == [github_repo.head("main")]
    commit.create_status("pending", context="ci", description="running")
    commit.create_status("success", context="ci")
    commit.create_status("failure", context="lint")
    combined = commit.get_combined_status()
    assert combined.state == "failure"
    assert {s.context: s.state for s in combined.statuses} == {"ci": "success", "lint": "failure"}
    with pytest.raises(github.GithubException) as bad:
        commit.create_status("green")
    assert bad.value.status == 422


def test_create_get_and_duplicate(repo, github_repo):
    pr, name, sha = open_pr(repo, github_repo, "create")
    assert (pr.state, pr.draft, pr.merged) == ("open", False, False)
    assert pr.head.sha == sha
    assert pr.head.ref == name
    assert pr.head.repo.owner.login == "acme"
    assert pr.mergeable_state == "clean"
    again = repo.get_pull(pr.number)
    assert (again.title, again.body) == (pr.title, "Promote it.")
    with pytest.raises(github.GithubException) as duplicate:
        repo.create_pull(base="main", head=name, title="again")
    assert duplicate.value.status == 422
    assert f"A pull request already exists for acme:{name}." in str(duplicate.value)


def test_list_filters_order_and_pages(token, repo, github_repo):
    a, name_a, _ = open_pr(repo, github_repo, "list")
    b, _, _ = open_pr(repo, github_repo, "list")
    c, _, _ = open_pr(repo, github_repo, "list")
    c.edit(state="closed")
    ours = {a.number, b.number, c.number}

    def numbers(**filters):
        return [p.number for p in repo.get_pulls(**filters) if p.number in ours]

    assert numbers() == [b.number, a.number]
    assert numbers(state="closed") == [c.number]
    assert numbers(state="all") == [c.number, b.number, a.number]
    assert numbers(state="all", direction="asc") == [a.number, b.number, c.number]
    assert numbers(head=f"acme:{name_a}") == [a.number]
    assert numbers(base="elsewhere") == []
    # One pull request per page: PyGithub follows the Link header.
    paged = client(token, per_page=1).get_repo(GITHUB_REPOSITORY).get_pulls(state="all")
    assert paged.totalCount >= 3
    assert [p.number for p in paged if p.number in ours] == [c.number, b.number, a.number]


def test_labels_and_comments(repo, github_repo):
    pr, _, _ = open_pr(repo, github_repo, "labels")
    pr.add_to_labels("baton", "staging")
    assert [label.name for label in pr.get_labels()] == ["baton", "staging"]
    pr.remove_from_labels("baton")
    assert [label.name for label in repo.get_pull(pr.number).labels] == ["staging"]
    pr.create_issue_comment("Gate passed on staging.")
    pr.create_issue_comment("Second comment.")
    assert [c.body for c in pr.get_issue_comments()] == ["Gate passed on staging.", "Second comment."]
    assert repo.get_pull(pr.number).comments == 2


def test_a_draft_cannot_merge_until_ready(repo, github_repo):
    pr, _, _ = open_pr(repo, github_repo, "draft", draft=True)
    assert (pr.draft, pr.mergeable_state) == (True, "draft")
    with pytest.raises(github.GithubException) as refused:
        pr.merge()
    assert refused.value.status == 405
    assert "Pull Request is still a draft" in str(refused.value)
    pr.mark_ready_for_review()
    ready = repo.get_pull(pr.number)
    assert ready.draft is False
    assert ready.merge().merged is True


def test_merge_commit_and_is_merged(repo, github_repo):
    pr, name, sha = open_pr(repo, github_repo, "merge")
    before = github_repo.head("main")
    assert pr.is_merged() is False
    status = pr.merge(merge_method="merge")
    assert status.merged is True
    assert pr.is_merged() is True
    merged = repo.get_pull(pr.number)
    assert (merged.state, merged.merged, merged.merged_by.login) == ("closed", True, "baton")
    assert merged.merge_commit_sha == status.sha == github_repo.head("main")
    assert github_repo.parents(status.sha) == [before, sha]
    assert github_repo.message(status.sha).startswith(f"Merge pull request #{pr.number} from acme/{name}")


def test_squash_and_rebase(repo, github_repo):
    squashed, name, sha = open_pr(repo, github_repo, "squash")
    before = github_repo.head("main")
    result = squashed.merge(merge_method="squash")
    assert github_repo.parents(result.sha) == [before]
    assert github_repo.message(result.sha) == f"{name}: add its file (#{squashed.number})"
    rebased, _, sha = open_pr(repo, github_repo, "rebase")
    before = github_repo.head("main")
    result = rebased.merge(merge_method="rebase")
    assert result.sha != sha
    assert github_repo.parents(result.sha) == [before]
    with pytest.raises(github.GithubException) as again:
        rebased.merge()
    assert again.value.status == 405


def test_a_closed_request_cannot_reopen_beside_an_open_one(repo, github_repo):
    first, name, _ = open_pr(repo, github_repo, "reopen")
    first.edit(state="closed")
    second = repo.create_pull(base="main", head=name, title="again")
    with pytest.raises(github.GithubException) as refused:
        first.edit(state="open")
    assert refused.value.status == 422
    assert f"A pull request already exists for acme:{name}." in str(refused.value)
    assert repo.get_pull(first.number).state == "closed"
    assert repo.get_pull(second.number).state == "open"


def test_auto_merge_is_refused_when_the_request_can_merge_now(repo, github_repo):
    pr, _, _ = open_pr(repo, github_repo, "clean")
    with pytest.raises(github.GithubException) as refused:
        pr.enable_automerge()
    assert "Pull request Pull request is in clean status" in str(refused.value)
    assert repo.get_pull(pr.number).auto_merge is None


def test_auto_merge_waits_for_the_required_check(repo, github_repo):
    base = protected_base(repo, github_repo, "auto")
    pr, _, sha = open_pr(repo, github_repo, "auto", base=base)
    assert pr.mergeable_state == "blocked"
    with pytest.raises(github.GithubException) as blocked:
        pr.merge()
    assert blocked.value.status == 405
    assert 'Required status check "ci" is expected.' in str(blocked.value)
    before = github_repo.head(base)

    data = pr.enable_automerge(merge_method="SQUASH", commit_headline="promote, squashed")
    assert data["actor"]["login"] == "baton"
    armed = repo.get_pull(pr.number)
    assert armed.state == "open"
    # PyGithub keeps `auto_merge` as the JSON object.
    assert (armed.auto_merge["merge_method"], armed.auto_merge["enabled_by"]["login"]) == ("squash", "baton")

    commit = repo.get_commit(sha)
    commit.create_status("pending", context="ci")
    assert repo.get_pull(pr.number).state == "open"
    commit.create_status("failure", context="ci")
    assert repo.get_pull(pr.number).auto_merge is not None
    commit.create_status("success", context="ci")

    merged = repo.get_pull(pr.number)
    assert (merged.merged, merged.auto_merge) == (True, None)
    assert pr.is_merged() is True
    head = github_repo.head(base)
    assert merged.merge_commit_sha == head
    assert github_repo.parents(head) == [before]
    assert github_repo.message(head) == "promote, squashed"


def test_auto_merge_can_be_disabled(repo, github_repo):
    base = protected_base(repo, github_repo, "disarm")
    pr, _, sha = open_pr(repo, github_repo, "disarm", base=base)
    pr.enable_automerge()
    assert repo.get_pull(pr.number).auto_merge is not None
    pr.disable_automerge()
    assert repo.get_pull(pr.number).auto_merge is None
    repo.get_commit(sha).create_status("success", context="ci")
    still = repo.get_pull(pr.number)
    assert (still.state, still.mergeable_state) == ("open", "clean")
    repo.get_branch(base).remove_protection()
    with pytest.raises(github.GithubException) as gone:
        repo.get_branch(base).get_protection()
    assert gone.value.status == 404
