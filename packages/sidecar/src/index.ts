// The sidecar: a composition root over @weft/proxy-core and @weft/l7 (being built).
export {};
