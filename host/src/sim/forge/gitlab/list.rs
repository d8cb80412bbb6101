//! `GET /projects/:id/merge_requests`: GitLab's list filters (`state`,
//! `source_branch`, `target_branch`, `labels` with `None`/`Any`, `iids[]`),
//! order (`order_by`, `sort`), 400 for values GitLab does not take, and
//! offset pagination headers (also used by the branch list).

use super::payload::Heads;
use super::*;

pub(super) async fn list(State(gl): State<Arc<Gl>>, Path(id): Path<String>, uri: Uri) -> Response {
    let p = match project_params(&gl, &id, &uri, &Bytes::new()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let filter = match ListFilter::read(&p, uri.query()) {
        Ok(f) => f,
        Err(text) => {
            return (StatusCode::BAD_REQUEST, Json(json!({ "error": text }))).into_response();
        }
    };
    let (page, per_page) = page_params(&p, 20);
    let store = gl.shared.store.lock().await.clone();
    let matching = filter.apply(store);
    let total = matching.len();
    let page_items: Vec<&SimMergeRequest> = matching
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    // The heads of the page's open requests' branches, each read once.
    let mut heads = Heads::new();
    for mr in page_items.iter().filter(|m| m.state == SimMrState::Opened) {
        for branch in [&mr.source_branch, &mr.target_branch] {
            if !heads.contains_key(branch)
                && let Ok(Some(sha)) = gl.shared.repo.head(branch).await
            {
                heads.insert(branch.clone(), sha);
            }
        }
    }
    let heads = Some(heads);
    let mut items = Vec::new();
    for mr in page_items {
        items.push(gl.mr_json_at(mr, false, heads.as_ref()).await);
    }
    let headers = gl.page_headers(&uri, page, per_page, total);
    (StatusCode::OK, headers, Json(Value::Array(items))).into_response()
}

impl Gl {
    /// GitLab's offset pagination headers for page `page` of a list of
    /// `total` items at `uri`: `X-Total`, `X-Total-Pages`, `X-Per-Page`,
    /// `X-Page`, `X-Next-Page`, `X-Prev-Page` (empty when none) and `Link`.
    pub(super) fn page_headers(
        &self,
        uri: &Uri,
        page: usize,
        per_page: usize,
        total: usize,
    ) -> HeaderMap {
        let pages = total.div_ceil(per_page).max(1);
        let link =
            |n: usize, rel: &str| page_link(&self.shared.base_url, uri.path(), uri.query(), n, rel);
        let mut links = Vec::new();
        if page > 1 {
            links.push(link(page - 1, "prev"));
        }
        if page < pages {
            links.push(link(page + 1, "next"));
        }
        links.push(link(1, "first"));
        links.push(link(pages, "last"));
        let some = |cond: bool, n: usize| if cond { n.to_string() } else { String::new() };
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-total", total.to_string()),
            ("x-total-pages", pages.to_string()),
            ("x-per-page", per_page.to_string()),
            ("x-page", page.to_string()),
            ("x-next-page", some(page < pages, page + 1)),
            ("x-prev-page", some(page > 1, page.saturating_sub(1))),
            ("link", links.join(", ")),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        headers
    }
}

/// The list filters GitLab applies (`state`, `source_branch`,
/// `target_branch`, `labels`, `iids[]`) and its order (`order_by`,
/// `sort`), validated as GitLab's API validates them.
struct ListFilter {
    state: String,
    source_branch: Option<String>,
    target_branch: Option<String>,
    labels: Option<Vec<String>>,
    iids: Option<Vec<u64>>,
    order_by: String,
    ascending: bool,
}

impl ListFilter {
    const STATES: [&str; 5] = ["opened", "closed", "locked", "merged", "all"];
    /// GitLab's `sort_options`; the simulator orders by `created_at`,
    /// `updated_at`, `merged_at` and `title`, and by `created_at` for the
    /// others (labels' priority, milestones, votes).
    const ORDERS: [&str; 8] = [
        "created_at",
        "label_priority",
        "milestone_due",
        "popularity",
        "priority",
        "title",
        "updated_at",
        "merged_at",
    ];

    /// Reads the filters; `Err` is GitLab's 400 text naming every
    /// parameter with a value it does not take.
    fn read(p: &Params, query: Option<&str>) -> Result<Self, String> {
        let mut bad = Vec::new();
        let mut one_of = |key: &str, allowed: &[&str], default: &str| {
            let value = p_str(p, key).unwrap_or_else(|| default.to_owned());
            if !allowed.contains(&value.as_str()) {
                bad.push(format!("{key} does not have a valid value"));
            }
            value
        };
        let state = one_of("state", &Self::STATES, "all");
        let order_by = one_of("order_by", &Self::ORDERS, "created_at");
        let sort = one_of("sort", &["asc", "desc"], "desc");
        let mut iids = None;
        let raw_iids = crate::sim::forge::query_all(query, "iids[]");
        if !raw_iids.is_empty() {
            let parsed: Result<Vec<u64>, _> = raw_iids.iter().map(|i| i.trim().parse()).collect();
            match parsed {
                Ok(list) => iids = Some(list),
                Err(_) => bad.push("iids is invalid".to_owned()),
            }
        }
        if !bad.is_empty() {
            return Err(bad.join(", "));
        }
        Ok(Self {
            state,
            source_branch: p_str(p, "source_branch"),
            target_branch: p_str(p, "target_branch"),
            labels: p.contains_key("labels").then(|| p_labels(p.get("labels"))),
            iids,
            order_by,
            ascending: sort == "asc",
        })
    }

    /// Whether `mr` has the labels asked: all of them, or `None` (no
    /// label) / `Any` (some label), as GitLab reads those words.
    fn labels_match(&self, mr: &SimMergeRequest) -> bool {
        let Some(wanted) = &self.labels else {
            return true;
        };
        match wanted.as_slice() {
            [one] if one.eq_ignore_ascii_case("none") => mr.labels.is_empty(),
            [one] if one.eq_ignore_ascii_case("any") => !mr.labels.is_empty(),
            all => all.iter().all(|l| mr.labels.contains(l)),
        }
    }

    fn apply(&self, store: Vec<SimMergeRequest>) -> Vec<SimMergeRequest> {
        let mut out: Vec<SimMergeRequest> = store
            .into_iter()
            .filter(|m| {
                self.state == "all" || serde_json::to_value(m.state).ok() == Some(json!(self.state))
            })
            .filter(|m| {
                self.source_branch
                    .as_ref()
                    .is_none_or(|b| *b == m.source_branch)
            })
            .filter(|m| {
                self.target_branch
                    .as_ref()
                    .is_none_or(|b| *b == m.target_branch)
            })
            .filter(|m| self.iids.as_ref().is_none_or(|ids| ids.contains(&m.iid)))
            .filter(|m| self.labels_match(m))
            .collect();
        // The store is in creation order; a stable sort keeps it for ties.
        match self.order_by.as_str() {
            "updated_at" => out.sort_by(|a, b| a.updated_at.cmp(&b.updated_at)),
            "merged_at" => out.sort_by(|a, b| a.merged_at.cmp(&b.merged_at)),
            "title" => out.sort_by(|a, b| a.title.cmp(&b.title)),
            _ => {}
        }
        if !self.ascending {
            out.reverse();
        }
        out
    }
}
