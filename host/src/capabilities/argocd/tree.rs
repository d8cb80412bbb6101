//! `GET /api/v1/applications/{name}/resource-tree`: the live resources an
//! application owns, with per-node health (e.g. a Rollout's `Suspended`).

use serde::Deserialize;

/// The application's resource tree (`v1alpha1ApplicationTree`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceTree {
    /// Managed resources and their children.
    pub nodes: Vec<ResourceNode>,
    /// Resources in the destination namespace that no app owns.
    pub orphaned_nodes: Vec<ResourceNode>,
}

/// One node (`v1alpha1ResourceNode`: ResourceRef fields inline).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceNode {
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Kubernetes UID.
    pub uid: String,
    /// Owners of this node.
    pub parent_refs: Vec<ResourceRef>,
    /// Health, when the kind has a health check.
    pub health: Option<NodeHealth>,
    /// Container images (Pods).
    pub images: Vec<String>,
}

/// A reference to another node.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ResourceRef {
    /// API group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Kubernetes UID.
    pub uid: String,
}

/// A node's health as the tree reports it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct NodeHealth {
    /// `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing`, `Unknown`.
    pub status: String,
    /// Health message (e.g. `CanaryPauseStep`).
    pub message: Option<String>,
}
