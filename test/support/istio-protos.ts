// The config messages of Istio's proxy extensions (istio/proxy: source/extensions/filters/http/istio_stats and
// peer_metadata config.proto) that istiod's sidecar config carries and Envoy's own protos lack; envoy-proto.ts
// loads them next to Envoy's, as the istio-proxy build of Envoy knows them. Field numbers and names as upstream.

export const ISTIO_PROTOS: readonly string[] = [
  `syntax = "proto3";
package stats;
import "google/protobuf/duration.proto";
message MetricConfig {
  map<string, string> dimensions = 1;
  string name = 2;
  repeated string tags_to_remove = 3;
  string match = 4;
  bool drop = 5;
}
enum MetricType { COUNTER = 0; GAUGE = 1; HISTOGRAM = 2; }
message MetricDefinition {
  string name = 1;
  string value = 2;
  MetricType type = 3;
}
enum Reporter { UNSPECIFIED = 0; SERVER_GATEWAY = 1; }
message PluginConfig {
  reserved 1, 2, 3, 4, 5;
  reserved "debug", "max_peer_cache_size", "stat_prefix", "field_separator", "value_separator";
  bool disable_host_header_fallback = 6;
  google.protobuf.Duration tcp_reporting_duration = 7;
  repeated MetricConfig metrics = 8;
  repeated MetricDefinition definitions = 9;
  Reporter reporter = 10;
  google.protobuf.Duration rotation_interval = 11;
  google.protobuf.Duration graceful_deletion_interval = 12;
}`,
  `syntax = "proto3";
package io.istio.http.peer_metadata;
message Config {
  message Baggage {}
  message WorkloadDiscovery {}
  message IstioHeaders { bool skip_external_clusters = 1; }
  message DiscoveryMethod {
    oneof method_specifier {
      Baggage baggage = 1;
      WorkloadDiscovery workload_discovery = 2;
      IstioHeaders istio_headers = 3;
    }
  }
  repeated DiscoveryMethod downstream_discovery = 1;
  repeated DiscoveryMethod upstream_discovery = 2;
  message PropagationMethod {
    oneof method_specifier { IstioHeaders istio_headers = 1; }
  }
  repeated PropagationMethod downstream_propagation = 3;
  repeated PropagationMethod upstream_propagation = 4;
  bool shared_with_upstream = 5;
  repeated string additional_labels = 6;
}`,
];
