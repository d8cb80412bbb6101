//! The types 0.1.0 and the current contract share field for field and case
//! for case (Argo CD status, trailers): `From` both ways, each generated
//! from one list of its fields or cases, so the two directions cannot
//! drift apart. A field added to the current contract makes the struct
//! literal incomplete and the build fail here; the type then moves to
//! [`super::down`] and [`super::up`], which hold the conversions that
//! drop or fill fields.

use crate::runtime::bindings::v0_1::baton::policy::types as old;
use crate::runtime::bindings::v0_2::baton::policy::types as new;

/// `From` both ways between the two contracts' enums of unit cases.
macro_rules! enums_both_ways {
    ($($name:ident { $($case:ident),+ $(,)? })+) => {$(
        impl From<new::$name> for old::$name {
            fn from(value: new::$name) -> Self {
                match value {
                    $(new::$name::$case => Self::$case,)+
                }
            }
        }

        impl From<old::$name> for new::$name {
            fn from(value: old::$name) -> Self {
                match value {
                    $(old::$name::$case => Self::$case,)+
                }
            }
        }
    )+};
}

/// One field carried over: as it is, or through `From` (`into`), inside
/// an `Option` (`opt`) or for each item of a list (`each`).
macro_rules! carry {
    (into $value:expr) => {
        $value.into()
    };
    (opt $value:expr) => {
        $value.map(Into::into)
    };
    (each $value:expr) => {
        $value.into_iter().map(Into::into).collect()
    };
    ($value:expr) => {
        $value
    };
}

/// `From` both ways between the two contracts' records; each field says
/// how it is carried (see [`carry`]).
macro_rules! records_both_ways {
    ($($name:ident { $($field:ident $(: $how:ident)?),+ $(,)? })+) => {$(
        impl From<new::$name> for old::$name {
            fn from(value: new::$name) -> Self {
                Self {
                    $($field: carry!($($how)? value.$field),)+
                }
            }
        }

        impl From<old::$name> for new::$name {
            fn from(value: old::$name) -> Self {
                Self {
                    $($field: carry!($($how)? value.$field),)+
                }
            }
        }
    )+};
}

enums_both_ways! {
    HealthStatus { Healthy, Progressing, Degraded, Suspended, Missing, Unknown }
    SyncStatus { Synced, OutOfSync, Unknown }
    OperationPhase { Running, Terminating, Failed, Error, Succeeded }
}

records_both_ways! {
    Trailer { key, value }
    ResourceHealth {
        group,
        kind,
        namespace,
        name,
        health: opt,
        message,
        sync: into,
    }
    AppStatus {
        app,
        health: into,
        health_message,
        sync: into,
        revision,
        operation_phase: opt,
        operation_message,
        reconciled_at,
        resources: each,
    }
}
