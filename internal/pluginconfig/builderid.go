package pluginconfig

// PromoteBuilderID identifies the artifacts of source "imagefamily-promote",
// which the release post-processor accepts.
const PromoteBuilderID = "immutable-infra.imagefamily-promote"
