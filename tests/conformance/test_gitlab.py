"""The GitLab simulator driven by python-gitlab, as a user's script would:
the project by path, branches, merge requests (create, duplicate, get,
list with filters, order and pages, labels, notes, drafts, close and
reopen), every merge (merge commit, squash, fast-forward) and auto-merge
waiting for the head pipeline."""

import gitlab
import pytest

from conftest import GITLAB_PROJECT, GITLAB_PROJECT_ID, env


@pytest.fixture
def gl(token):
    return gitlab.Gitlab(env("GITLAB_URL"), private_token=token)


@pytest.fixture
def project(gl):
    return gl.projects.get(GITLAB_PROJECT)


@pytest.fixture
def ff_project(token):
    return gitlab.Gitlab(env("GITLAB_FF_URL"), private_token=token).projects.get(GITLAB_PROJECT)


def open_mr(project, repo, prefix, **extra):
    name, sha = repo.branch(prefix)
    mr = project.mergerequests.create(
        {"source_branch": name, "target_branch": "main", "title": f"promote {name}", **extra}
    )
    return mr, name, sha


def set_status(project, sha, state, name="ci"):
    # As python-gitlab documents it: a lazy commit, then its statuses.
    return project.commits.get(sha, lazy=True).statuses.create({"state": state, "name": name})


def test_the_project_by_path_and_by_id(gl, project):
    assert project.id == GITLAB_PROJECT_ID
    assert project.path_with_namespace == GITLAB_PROJECT
    assert project.default_branch == "main"
    assert gl.projects.get(GITLAB_PROJECT_ID).path_with_namespace == GITLAB_PROJECT
    with pytest.raises(gitlab.exceptions.GitlabGetError) as missing:
        gl.projects.get("acme/elsewhere")
    assert missing.value.response_code == 404


def test_a_wrong_token_is_refused(token):
    bad = gitlab.Gitlab(env("GITLAB_URL"), private_token=token + "-wrong")
    with pytest.raises(gitlab.exceptions.GitlabAuthenticationError) as refused:
        bad.projects.get(GITLAB_PROJECT)
    assert refused.value.response_code == 401


def test_branches_list_and_get(project, gitlab_repo):
    name, sha = gitlab_repo.branch("feature")
    names = {b.name: b for b in project.branches.list(get_all=True)}
    assert names["main"].default is True
    assert names[name].commit["id"] == sha
    assert names[name].merged is False
    one = project.branches.get(name)
    assert one.commit["id"] == sha
    assert one.commit["parent_ids"] == [gitlab_repo.head("main")]
    assert project.commits.get(sha).title == f"{name}: add its file"
    # Pages of one branch each reach every branch.
    paged = project.branches.list(per_page=1, get_all=True)
    assert {b.name for b in paged} == set(names)


def test_branch_search_anchors_and_ignores_case(project, gitlab_repo):
    # GitLab's search: `^term` begins with, `term$` ends with, else contains.
    under, _ = gitlab_repo.branch("search/Under")
    other, _ = gitlab_repo.branch("other/search/under")
    begins = {b.name for b in project.branches.list(search="^search/under", get_all=True)}
    assert begins == {under}
    contains = {b.name for b in project.branches.list(search="search/under", get_all=True)}
    assert contains == {under, other}
    suffix = other.rsplit("-", 1)[1]
    ends = {b.name for b in project.branches.list(search=f"-{suffix}$", get_all=True)}
    assert ends == {other}


def test_branch_delete_and_a_branch_that_is_gone(project, gitlab_repo):
    name, _ = gitlab_repo.branch("delete/me")
    project.branches.delete(name)
    assert name not in {b.name for b in project.branches.list(get_all=True)}
    with pytest.raises(gitlab.exceptions.GitlabDeleteError) as gone:
        project.branches.delete(name)
    assert gone.value.response_code == 404
    assert "Branch Not Found" in str(gone.value)


def test_create_get_and_duplicate(project, gitlab_repo):
    mr, name, sha = open_mr(
        project,
        gitlab_repo,
        "create",
        description="Promote it.",
        labels=["baton", "staging"],
        remove_source_branch=True,
    )
    assert mr.state == "opened"
    assert mr.labels == ["baton", "staging"]
    assert mr.force_remove_source_branch is True
    assert mr.sha == sha
    assert mr.draft is False
    again = project.mergerequests.get(mr.iid)
    assert (again.title, again.description, again.source_branch) == (mr.title, "Promote it.", name)
    assert again.detailed_merge_status == "mergeable"
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as duplicate:
        project.mergerequests.create({"source_branch": name, "target_branch": "main", "title": "again"})
    assert duplicate.value.response_code == 409
    assert f"Another open merge request already exists for this source branch: !{mr.iid}" in str(duplicate.value)


def test_list_filters_order_and_pages(project, gitlab_repo):
    a, _, _ = open_mr(project, gitlab_repo, "list", labels=["lst-x", "lst-y"])
    b, _, _ = open_mr(project, gitlab_repo, "list", labels=["lst-x"])
    c, _, _ = open_mr(project, gitlab_repo, "list")
    c.state_event = "close"
    c.save()
    ours = {a.iid, b.iid, c.iid}

    def iids(**filters):
        return [m.iid for m in project.mergerequests.list(get_all=True, **filters) if m.iid in ours]

    assert iids(labels=["lst-x"]) == [b.iid, a.iid]
    assert iids(labels=["lst-x", "lst-y"]) == [a.iid]
    assert iids(iids=[a.iid, c.iid]) == [c.iid, a.iid]
    assert iids(iids=[a.iid, c.iid], sort="asc") == [a.iid, c.iid]
    assert iids(state="closed") == [c.iid]
    assert iids(state="opened", order_by="created_at", sort="asc") == [a.iid, b.iid]
    assert c.iid in iids(labels="None") and a.iid not in iids(labels="None")
    # Pages: one item each, the headers python-gitlab reads.
    first = project.mergerequests.list(iids=sorted(ours), per_page=1, page=1)
    assert [m.iid for m in first] == [c.iid]
    pages = project.mergerequests.list(iids=sorted(ours), per_page=1, iterator=True)
    assert (pages.total, pages.total_pages, pages.per_page) == (3, 3, 1)
    assert [m.iid for m in pages] == [c.iid, b.iid, a.iid]
    with pytest.raises(gitlab.exceptions.GitlabListError) as bogus:
        project.mergerequests.list(state="bogus")
    assert bogus.value.response_code == 400
    assert "state does not have a valid value" in str(bogus.value)


def test_labels_and_notes(project, gitlab_repo):
    mr, _, _ = open_mr(project, gitlab_repo, "notes", labels=["baton"])
    mr.labels = ["baton", "prod"]
    mr.save()
    assert project.mergerequests.get(mr.iid).labels == ["baton", "prod"]
    mr.notes.create({"body": "Gate passed on staging."})
    mr.notes.create({"body": "Second note."})
    notes = mr.notes.list(get_all=True)
    assert [n.body for n in notes] == ["Second note.", "Gate passed on staging."]
    assert notes[0].noteable_iid == mr.iid
    assert project.mergerequests.get(mr.iid).user_notes_count == 2


def test_a_draft_cannot_merge_until_ready(project, gitlab_repo):
    mr, _, _ = open_mr(project, gitlab_repo, "draft")
    mr.title = "Draft: not yet"
    mr.save()
    draft = project.mergerequests.get(mr.iid)
    assert (draft.draft, draft.detailed_merge_status) == (True, "draft_status")
    with pytest.raises(gitlab.exceptions.GitlabMRClosedError) as refused:
        draft.merge()
    assert refused.value.response_code == 405
    draft.title = "ready now"
    draft.save()
    draft.merge()
    assert project.mergerequests.get(mr.iid).state == "merged"


def test_merge_commit(project, gitlab_repo):
    mr, name, sha = open_mr(project, gitlab_repo, "merge")
    before = gitlab_repo.head("main")
    mr.merge(should_remove_source_branch=False)
    merged = project.mergerequests.get(mr.iid)
    assert merged.state == "merged"
    assert merged.merge_commit_sha == gitlab_repo.head("main")
    assert gitlab_repo.parents(merged.merge_commit_sha) == [before, sha]
    assert merged.merge_user["username"] == "baton"


def test_squash_spelled_as_python_sends_it(project, gitlab_repo):
    # `squash=True` travels in the query string as `squash=True`.
    mr, _, sha = open_mr(project, gitlab_repo, "squash")
    before = gitlab_repo.head("main")
    mr.merge(squash=True)
    merged = project.mergerequests.get(mr.iid)
    assert merged.squash is True
    squash = merged.squash_commit_sha
    assert squash and squash != sha
    assert gitlab_repo.parents(squash) == [before]
    assert gitlab_repo.message(squash) == mr.title
    assert gitlab_repo.parents(merged.merge_commit_sha) == [before, squash]


def test_squash_set_when_created(project, gitlab_repo):
    mr, _, _ = open_mr(project, gitlab_repo, "squash-attr", squash=True)
    assert mr.squash is True
    mr.merge()
    assert project.mergerequests.get(mr.iid).squash_commit_sha


def test_fast_forward_project(ff_project, gitlab_ff_repo):
    mr, _, sha = open_mr(ff_project, gitlab_ff_repo, "ff")
    mr.merge()
    merged = ff_project.mergerequests.get(mr.iid)
    assert merged.state == "merged"
    assert merged.merge_commit_sha is None
    assert gitlab_ff_repo.head("main") == sha


def test_a_closed_request_cannot_reopen_beside_an_open_one(project, gitlab_repo):
    first, name, _ = open_mr(project, gitlab_repo, "reopen")
    first.state_event = "close"
    first.save()
    assert project.mergerequests.get(first.iid).state == "closed"
    second = project.mergerequests.create({"source_branch": name, "target_branch": "main", "title": "again"})
    first.state_event = "reopen"
    with pytest.raises(gitlab.exceptions.GitlabUpdateError) as refused:
        first.save()
    assert refused.value.response_code == 409
    assert f"!{second.iid}" in str(refused.value)
    assert project.mergerequests.get(first.iid).state == "closed"


def test_auto_merge_waits_for_the_pipeline(project, gitlab_repo):
    mr, _, sha = open_mr(project, gitlab_repo, "auto")
    set_status(project, sha, "pending")
    before = gitlab_repo.head("main")
    mr.merge(merge_when_pipeline_succeeds=True)
    armed = project.mergerequests.get(mr.iid)
    assert (armed.state, armed.merge_when_pipeline_succeeds) == ("opened", True)
    assert armed.head_pipeline["status"] == "pending"
    assert gitlab_repo.head("main") == before
    set_status(project, sha, "running")
    assert project.mergerequests.get(mr.iid).state == "opened"
    set_status(project, sha, "success")
    merged = project.mergerequests.get(mr.iid)
    assert merged.state == "merged"
    assert merged.head_pipeline["status"] == "success"
    assert gitlab_repo.parents(gitlab_repo.head("main")) == [before, sha]
    statuses = project.commits.get(sha, lazy=True).statuses.list(get_all=True)
    assert [s.status for s in statuses] == ["success", "running", "pending"]


def test_auto_merge_in_the_query_string(project, gitlab_repo):
    # The current parameter `auto_merge`, as a keyword: `auto_merge=True`.
    mr, _, sha = open_mr(project, gitlab_repo, "auto-query")
    set_status(project, sha, "running", name="build")
    mr.merge(auto_merge=True)
    assert project.mergerequests.get(mr.iid).merge_when_pipeline_succeeds is True
    set_status(project, sha, "success", name="build")
    assert project.mergerequests.get(mr.iid).state == "merged"


def test_auto_merge_without_a_pipeline_merges_now(project, gitlab_repo):
    mr, _, _ = open_mr(project, gitlab_repo, "auto-now")
    mr.merge(merge_when_pipeline_succeeds=True)
    assert project.mergerequests.get(mr.iid).state == "merged"


def test_a_failed_pipeline_cancels_auto_merge(project, gitlab_repo):
    mr, _, sha = open_mr(project, gitlab_repo, "auto-fail")
    set_status(project, sha, "pending")
    mr.merge(merge_when_pipeline_succeeds=True)
    set_status(project, sha, "failed")
    cancelled = project.mergerequests.get(mr.iid)
    assert (cancelled.state, cancelled.merge_when_pipeline_succeeds) == ("opened", False)
    assert cancelled.head_pipeline["status"] == "failed"
