//! Byte-exact golden tests of the YAML edit for every field kind and quoting
//! style, and every field error; digests and value templates on copies of
//! real files (Kustomize `digest:`, a Deployment `image:` with a Flux
//! marker, Helm `image.digest`).

use baton::capabilities::git::{
    Edited, FieldError, FieldSpec, StageValue, read_field, read_value, set_field, set_value,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/git/");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}{name}")).expect("fixture exists")
}

fn spec(text: &str) -> FieldSpec {
    text.parse().expect("valid field spec")
}

/// Sets `field` and returns the new text; the old value must be `old`.
fn set(input: &str, field: &str, value: &str, old: &str) -> String {
    match set_field("f.yaml", &spec(field), input.as_bytes(), value).expect("edit succeeds") {
        Edited::Changed { old: prev, bytes } => {
            assert_eq!(prev, old);
            let out = String::from_utf8(bytes).expect("utf-8");
            assert_eq!(
                read_field("f.yaml", &spec(field), out.as_bytes()).expect("reads back"),
                value
            );
            out
        }
        Edited::Unchanged => panic!("expected a change"),
    }
}

fn err(input: &[u8], field: &str) -> FieldError {
    set_field("apps/dev/payments.yaml", &spec(field), input, "v9").expect_err("edit must fail")
}

#[test]
fn helm_double_quoted_tag_keeps_comments_and_quotes() {
    let input = fixture("helm-values.yaml");
    let out = set(&input, "helm:image.tag", "v1.2.3", "v1.2.2");
    assert_eq!(out, input.replace("tag: \"v1.2.2\"", "tag: \"v1.2.3\""));
}

#[test]
fn helm_plain_single_and_plain_that_needs_quotes() {
    assert_eq!(
        set("image:\n  tag: v1 # pinned\n", "helm:image.tag", "v2", "v1"),
        "image:\n  tag: v2 # pinned\n"
    );
    assert_eq!(
        set("image:\n  tag: 'v1'\n", "helm:image.tag", "v2", "v1"),
        "image:\n  tag: 'v2'\n"
    );
    // A plain `1.10` would be the float 1.1: it is quoted.
    assert_eq!(
        set("image:\n  tag: v1\n", "helm:image.tag", "1.10", "v1"),
        "image:\n  tag: \"1.10\"\n"
    );
    assert_eq!(
        set("image:\n  tag: 1.9\n", "helm:image.tag", "true", "1.9"),
        "image:\n  tag: \"true\"\n"
    );
    assert_eq!(
        set("image:\n  tag:\n", "helm:image.tag", "v1", ""),
        "image:\n  tag: v1\n"
    );
}

#[test]
fn crlf_and_missing_trailing_newline_survive() {
    let input = "# env\r\nimage:\r\n  repository: x\r\n  tag: \"v1\"\r\nother: 1\r\n";
    assert_eq!(
        set(input, "helm:image.tag", "v2", "v1"),
        "# env\r\nimage:\r\n  repository: x\r\n  tag: \"v2\"\r\nother: 1\r\n"
    );
    assert_eq!(
        set("image:\n  tag: v1", "helm:image.tag", "v2", "v1"),
        "image:\n  tag: v2"
    );
    assert_eq!(
        set("image:\r\n  tag: 'v1'", "helm:image.tag", "v2", "v1"),
        "image:\r\n  tag: 'v2'"
    );
}

#[test]
fn kustomize_new_tag_and_new_name_by_image_name() {
    let input = fixture("kustomization-multi.yaml");
    let out = set(
        &input,
        "kustomize:ghcr.io/acme/payments",
        "v1.2.3",
        "v1.2.2",
    );
    assert_eq!(
        out,
        input.replacen("newTag: v1.2.2  #", "newTag: v1.2.3  #", 1)
    );
    let out = set(
        &input,
        "kustomize:ghcr.io/acme/payments-worker",
        "v1.2.3",
        "v1.2.2",
    );
    assert_eq!(out, input.replace("newTag: 'v1.2.2'", "newTag: 'v1.2.3'"));
    let out = set(
        &input,
        "kustomize:ghcr.io/acme/payments-worker:newName",
        "registry.acme.internal/w2",
        "registry.acme.internal/payments-worker",
    );
    assert_eq!(
        out,
        input.replace("payments-worker\n  newTag", "w2\n  newTag")
    );
    let out = set(&input, "kustomize:redis", "7.4", "7.2");
    assert_eq!(out, input.replace("\"7.2\"", "\"7.4\""));

    let upstream = fixture("argo-cd__reposerver__testdata__single-global__kustomization.yaml");
    let out = set(
        &upstream,
        "kustomize:quay.io/argoprojlabs/argocd-e2e-container",
        "0.2",
        "0.1",
    );
    assert_eq!(out, upstream.replace("newTag: \"0.1\"", "newTag: \"0.2\""));
}

#[test]
fn argocd_source_and_sources_on_the_upstream_sample() {
    let input = fixture("argo-cd__docs__operator-manual__application.yaml");
    let out = set(&input, "argocd:targetRevision", "v1.2.3", "HEAD");
    let line = "    targetRevision: HEAD  # For Helm, this refers to the chart version.\n    path: guestbook  # This";
    assert_eq!(
        out,
        input.replacen(line, &line.replace("HEAD", "v1.2.3"), 1)
    );

    let out = set(&input, "argocd:sources[0].targetRevision", "v2.0.0", "HEAD");
    let line = "      targetRevision: HEAD  # For Helm";
    assert_eq!(
        out,
        input.replacen(line, &line.replace("HEAD", "v2.0.0"), 1)
    );
}

#[test]
fn yaml_paths_with_selectors_and_flow_collections() {
    let input = "spec:\n  template:\n    spec:\n      containers:\n      - name: sidecar\n        image: envoy:1.0\n      - name: web\n        image: \"docker.io/acme/web:1.0\" # app\n";
    let out = set(
        input,
        "yaml:spec.template.spec.containers[name=web].image",
        "docker.io/acme/web:2.0",
        "docker.io/acme/web:1.0",
    );
    assert_eq!(
        out,
        input.replace("\"docker.io/acme/web:1.0\"", "\"docker.io/acme/web:2.0\"")
    );
    let out = set(
        input,
        "yaml:spec.template.spec.containers[0].image",
        "envoy:1.1",
        "envoy:1.0",
    );
    assert_eq!(out, input.replace("envoy:1.0", "envoy:1.1"));
    assert_eq!(
        set("a: {b: [x, 'y'], c: 1}\n", "yaml:a.b[1]", "z", "y"),
        "a: {b: [x, 'z'], c: 1}\n"
    );
    assert_eq!(
        set("a: {b: [x, y]}\n", "yaml:a.b[0]", "p,q", "x"),
        "a: {b: [\"p,q\", y]}\n"
    );
}

#[test]
fn document_selector_picks_one_document() {
    let input = "kind: A\nv: 1\n---\nkind: B\nv: \"x\"\n";
    assert_eq!(
        set(input, "yaml[1]:v", "y", "x"),
        "kind: A\nv: 1\n---\nkind: B\nv: \"y\"\n"
    );
}

#[test]
fn same_value_is_unchanged() {
    let input = fixture("helm-values.yaml");
    let out = set_field(
        "f.yaml",
        &spec("helm:image.tag"),
        input.as_bytes(),
        "v1.2.2",
    )
    .expect("ok");
    assert_eq!(out, Edited::Unchanged);
}

#[test]
fn every_field_error_names_file_and_field() {
    let cases: Vec<(&[u8], &str, &str)> = vec![
        (
            b"image:\n  repo: x\n",
            "helm:image.tag",
            "not found (no `image.tag`)",
        ),
        (
            b"image:\n  tag:\n    a: 1\n",
            "helm:image.tag",
            "is a mapping at `image.tag`, not a scalar",
        ),
        (
            b"image:\n  tag: [1, 2]\n",
            "helm:image.tag",
            "is a sequence at `image.tag`, not a scalar",
        ),
        (
            b"image: v1\n",
            "helm:image.tag",
            "is a scalar at `image`, not a mapping",
        ),
        (
            b"base: &b v1\nimage:\n  tag: *b\n",
            "helm:image.tag",
            "goes through YAML alias at `image.tag`",
        ),
        (
            b"image:\n  tag: &t v1\nother: *t\n",
            "helm:image.tag",
            "goes through YAML anchor at `image.tag`",
        ),
        (
            b"defaults: &d\n  tag: v1\nimage:\n  <<: *d\n  tag: v2\n",
            "helm:image.tag",
            "merge key `<<` at `image`",
        ),
        (
            b"a: 1\n---\na: 2\n",
            "yaml:a",
            "2 YAML documents and field yaml:a selects none",
        ),
        (
            b"a: 1\n",
            "yaml[3]:a",
            "selects document 3 but the file has 1",
        ),
        (
            b"image:\n  tag: |\n    v1\n",
            "helm:image.tag",
            "is a block scalar",
        ),
        (
            b"image:\n  tag: \"v1\n  x: [\n",
            "helm:image.tag",
            "YAML syntax error",
        ),
        (
            b"image:\n  tag: \xff\xfe\n",
            "helm:image.tag",
            "not valid UTF-8",
        ),
    ];
    for (input, field, expect) in cases {
        let text = err(input, field).to_string();
        assert!(text.starts_with("apps/dev/payments.yaml"), "{text}");
        assert!(text.contains(field), "{text}");
        assert!(text.contains(expect), "{field}: `{expect}` not in `{text}`");
    }
    let big = format!("image:\n  tag: v1\npad: \"{}\"\n", "x".repeat(1024 * 1024));
    let text = err(big.as_bytes(), "helm:image.tag").to_string();
    assert!(
        text.contains("over the 1048576-byte limit") && text.contains("helm:image.tag"),
        "{text}"
    );
}

#[test]
fn syntax_error_reports_line_and_column() {
    let e = err(b"a: 1\nb: [1, 2\nc: 3\n", "yaml:a");
    match e {
        FieldError::Syntax { line, column, .. } => {
            assert!(line >= 2 && column >= 1, "{line}:{column}")
        }
        other => panic!("expected a syntax error, got {other}"),
    }
}

#[test]
fn values_yaml_1_1_reads_as_non_strings_are_quoted() {
    // Helm reads values with a YAML 1.1 resolver: a plain 0712345 (an
    // abbreviated commit id) would be the octal integer 234725.
    for value in [
        "0712345", "010", "on", "yes", "Off", "1_000", "1__0", "0.1_0", "1:20", "~",
    ] {
        assert_eq!(
            set(
                "image:\n  tag: v1 # pinned\n",
                "helm:image.tag",
                value,
                "v1"
            ),
            format!("image:\n  tag: \"{value}\" # pinned\n"),
            "{value}"
        );
    }
    // A value that needs no quotes keeps the file's plain style.
    assert_eq!(
        set("image:\n  tag: v1\n", "helm:image.tag", "v1.2.3", "v1"),
        "image:\n  tag: v1.2.3\n"
    );
}

#[test]
fn a_byte_order_mark_is_read_and_kept() {
    let input = "\u{feff}# values\nimage:\n  tag: \"v1\"\n";
    assert_eq!(
        set(input, "helm:image.tag", "v2", "v1"),
        "\u{feff}# values\nimage:\n  tag: \"v2\"\n"
    );
}

#[test]
fn a_value_behind_an_alias_or_merge_key_is_read_but_not_written() {
    let alias = "defaults: &d\n  tag: v7\nimage: *d\n";
    assert_eq!(
        read_field("f.yaml", &spec("helm:image.tag"), alias.as_bytes()).unwrap(),
        "v7"
    );
    assert!(matches!(
        err(alias.as_bytes(), "helm:image.tag"),
        FieldError::AliasOrAnchor { .. }
    ));
    let merge = "base: &b\n  tag: v8\nimage:\n  <<: *b\n  pull: Always\n";
    assert_eq!(
        read_field("f.yaml", &spec("helm:image.tag"), merge.as_bytes()).unwrap(),
        "v8"
    );
    assert!(matches!(
        err(merge.as_bytes(), "helm:image.tag"),
        FieldError::MergeKey { .. }
    ));
}

const D1: &str = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";
const D2: &str = "sha256:7f0a3b36d2e1c4b5a69788d1c2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f";

/// `field` with the value template `template`.
fn templated(field: &str, template: &str) -> FieldSpec {
    spec(field).with_value(template.parse().expect("valid template"))
}

/// Sets `version`/`digest` through `field` and returns the new text, after
/// checking the value reads back.
fn set_both(input: &str, field: &FieldSpec, version: &str, digest: Option<&str>) -> String {
    match set_value("f.yaml", field, input.as_bytes(), version, digest).expect("edit succeeds") {
        Edited::Changed { bytes, .. } => {
            let out = String::from_utf8(bytes).expect("utf-8");
            let back = read_value("f.yaml", field, out.as_bytes()).expect("reads back");
            assert_eq!(back.version, version);
            if field.value.holds_digest() {
                assert_eq!(back.digest.as_deref(), Some(digest.unwrap_or(version)));
            }
            out
        }
        Edited::Unchanged => panic!("expected a change"),
    }
}

#[test]
fn kustomize_digest_entries_are_read_and_written_alone() {
    let input = fixture("kustomize__site__images__kustomization.yaml");
    let field = spec("kustomize:alpine:digest");
    assert_eq!(
        read_value("f.yaml", &field, input.as_bytes()).expect("reads"),
        StageValue {
            version: D1.into(),
            digest: Some(D1.into())
        }
    );
    let out = set_both(&input, &field, D2, Some(D2));
    assert_eq!(out, input.replace(D1, D2));
    // The digest alone is the version; a tag is refused, naming the field.
    let e = set_value("f.yaml", &field, input.as_bytes(), "3.7", None).expect_err("a tag");
    assert_eq!(
        e.to_string(),
        "f.yaml: field kustomize:alpine:digest: digest \"3.7\" does not fit `{digest}`: it is \
         not a digest (sha256: and 64 hex digits, or sha512: and 128)"
    );
    // The entry has no newTag, and nothing adds one.
    let e = set_field("f.yaml", &spec("kustomize:alpine"), input.as_bytes(), "3.8")
        .expect_err("no newTag");
    assert!(
        matches!(e, FieldError::KeyMissing { ref missing, .. } if missing == "images[name=alpine].newTag"),
        "{e}"
    );
    // Other entries keep working, a newTag takes only tags.
    let out = set(&input, "kustomize:nginx", "1.9.0", "1.8.0");
    assert_eq!(out, input.replace("newTag: 1.8.0", "newTag: 1.9.0"));
    let e = set_field("f.yaml", &spec("kustomize:nginx"), input.as_bytes(), D2)
        .expect_err("a digest is not a tag");
    assert!(e.to_string().contains("is not an image tag"), "{e}");
}

#[test]
fn two_kustomize_entries_with_one_name_are_ambiguous() {
    let input = "images:\n- name: nginx\n  newTag: 1.8.0\n- name: redis\n  newTag: \"7\"\n- name: nginx\n  newTag: 1.9.0\n";
    for (field, value) in [("kustomize:nginx", "1.9.1"), ("kustomize:nginx:digest", D1)] {
        let e = set_field("k.yaml", &spec(field), input.as_bytes(), value).expect_err(field);
        assert_eq!(
            e.to_string(),
            format!("k.yaml: field {field} is ambiguous: 2 items match `images[name=nginx]`")
        );
        let e = read_field("k.yaml", &spec(field), input.as_bytes()).expect_err(field);
        assert!(matches!(e, FieldError::Ambiguous { count: 2, .. }), "{e}");
    }
    assert_eq!(
        set(input, "kustomize:redis", "7.2", "7"),
        input.replace("\"7\"", "\"7.2\"")
    );
}

#[test]
fn a_flux_marked_image_takes_a_template_and_keeps_its_marker() {
    let input = fixture("podinfo__kustomize__deployment-flux-marker.yaml");
    let path = "yaml:spec.template.spec.containers[name=podinfod].image";
    let old = "image: ghcr.io/stefanprodan/podinfo:6.1.1 # {\"$imagepolicy\"";

    let by_tag = templated(path, "ghcr.io/stefanprodan/podinfo:{version}");
    assert_eq!(
        read_field("f.yaml", &by_tag, input.as_bytes()).expect("reads"),
        "6.1.1"
    );
    let out = set_both(&input, &by_tag, "6.2.0", Some(D1));
    assert_eq!(out, input.replace(old, &old.replace("6.1.1", "6.2.0")));

    let pinned = templated(path, "ghcr.io/stefanprodan/podinfo:{version}@{digest}");
    let out = set_both(&input, &pinned, "6.2.0", Some(D1));
    assert_eq!(
        out,
        input.replace(old, &old.replace("6.1.1", &format!("6.2.0@{D1}")))
    );
    // The file's own value does not match the template until Baton writes it.
    let e = read_field("f.yaml", &pinned, input.as_bytes()).expect_err("no digest yet");
    assert_eq!(
        e.to_string(),
        format!(
            "f.yaml: field {path}: \"ghcr.io/stefanprodan/podinfo:6.1.1\" does not match the value \
             template `ghcr.io/stefanprodan/podinfo:{{version}}@{{digest}}`"
        )
    );
    let e = set_value("f.yaml", &pinned, input.as_bytes(), "6.2.0", None).expect_err("no digest");
    assert!(
        e.to_string().contains("holds a digest and none was given"),
        "{e}"
    );

    // Without a template the whole reference is the version.
    let whole = format!("ghcr.io/stefanprodan/podinfo:6.2.0@{D2}");
    let out = set(&input, path, &whole, "ghcr.io/stefanprodan/podinfo:6.1.1");
    assert_eq!(
        out,
        input.replace(
            old,
            &old.replace("ghcr.io/stefanprodan/podinfo:6.1.1", &whole)
        )
    );
    assert_eq!(
        read_value("f.yaml", &spec(path), out.as_bytes())
            .expect("reads")
            .digest,
        Some(D2.to_owned())
    );
}

#[test]
fn the_upstream_flux_setter_sample_takes_an_image_reference() {
    let input = fixture("image-automation-controller__setters__marked.yaml");
    let out = set(
        &input,
        "yaml:spec.jobTemplate.spec.template.spec.containers[name=c].image",
        "image:v1.0.1",
        "image:v1.0.0",
    );
    assert_eq!(
        out,
        input.replace("image: image:v1.0.0 #", "image: image:v1.0.1 #")
    );
}

#[test]
fn helm_image_digest_starts_empty_and_keeps_its_quotes() {
    let input = fixture("bitnami__nginx__values-image.yaml");
    let field = spec("helm:image.digest");
    assert!(field.value.digest_only());
    assert_eq!(
        read_field("f.yaml", &field, input.as_bytes()).expect("reads"),
        ""
    );
    let out = set_both(&input, &field, D1, None);
    assert_eq!(
        out,
        input.replace("digest: \"\"", &format!("digest: \"{D1}\""))
    );
    let again = set_both(&out, &field, D2, Some(D2));
    assert_eq!(
        again,
        input.replace("digest: \"\"", &format!("digest: \"{D2}\""))
    );
    assert_eq!(
        set_value("f.yaml", &field, out.as_bytes(), D1, None).expect("no edit"),
        Edited::Unchanged
    );
    let e = set_value("f.yaml", &field, input.as_bytes(), "1.29.2", Some(D1)).expect_err("a tag");
    assert!(
        e.to_string()
            .contains("so a version written there is its digest"),
        "{e}"
    );
}
