export { allowsCall, CONTROLLER_SERVICE, CONTROLLER_WRITE_ENDPOINTS, callableBy } from "./access.js";
export type { CallSettingsInput, RetryBudgetSettings } from "./call-settings.js";
export {
  BalanceMode,
  BreakerPolicy,
  CallSettings,
  ConcurrencyPolicy,
  Criticality,
  HedgePolicy,
  MAX_CALL_TIMEOUT_MS,
  OutlierPolicy,
  RetryPolicy,
  ValidationPolicy,
} from "./call-settings.js";
export type {
  CheckedContract,
  Contract,
  EndpointSpec,
  EndpointSpecs,
  InputOf,
  OutputOf,
} from "./contract.js";
export { checkContract } from "./contract.js";
export type { EndpointStats as EndpointStatsType } from "./discovery.js";
export {
  CallStats,
  DiscoveryVerb,
  discoverySubject,
  EndpointData,
  EndpointInfo,
  EndpointStats,
  InfoResponse,
  LATENCY_BOUNDS_MS,
  latencyBucketOf,
  MeshStatsResponse,
  MetadataKey,
  PingResponse,
  StatsResponse,
} from "./discovery.js";
export { ErrorBody } from "./error-body.js";
export type { Blame, ErrorCode, ErrorCodeSpec, Executed, RetryClass } from "./errors.js";
export { codeForStatus, ErrorCodes, isErrorCode } from "./errors.js";
export {
  Header,
  IDEMPOTENCY_KEY_PATTERN,
  isIdempotencyKey,
  JSON_CONTENT_TYPE,
  MAX_TENANT_TOKEN_CHARS,
} from "./headers.js";
export { IssueDetail, issueDetails } from "./issues.js";
export { parseJsonMessage, summarizeIssues } from "./json-message.js";
export { jsonSchemas } from "./json-schemas.js";
export { decodePublicNkey, isPublicUserNkey } from "./nkey.js";
export type { AppliedReport as AppliedReportType, PolicyInput } from "./policy.js";
export {
  AccessPolicy,
  AccessRule,
  AppliedReport,
  appliedSubject,
  configSubject,
  FaultRule,
  Plan,
  POLICY_BUCKET,
  POLICY_CURRENT_KEY,
  Policy,
  PolicySnapshot,
  policyVersionKey,
  QuotaRule,
  reportRequestSubject,
  ServicePolicy,
  TenantIssuer,
  TenantsPolicy,
} from "./policy.js";
export { ANONYMOUS_TENANT, quotaBucket, quotaKey } from "./quota.js";
export {
  Mirror,
  ROUTE_HEADER_NAME_PATTERN,
  ROUTE_HEADER_VALUE_PATTERN,
  Route,
  RouteHeaderName,
  RouteHeaderValue,
  RouteMatch,
  RouteSplit,
  rangeMajor,
  VERSION_RANGE_PATTERN,
  VersionRange,
} from "./routes.js";
export {
  CancelMessage,
  cancelSubject,
  DEFAULT_PREFIX,
  EndpointName,
  endpointSubject,
  instanceSubject,
  instanceSubjects,
  isServiceName,
  MAX_NAME_LENGTH,
  majorOf,
  NAME_PATTERN,
  NAME_RULE,
  PREFIX_PATTERN,
  policyApiPrefix,
  queueGroup,
  ServiceName,
  SubjectPrefix,
  serviceSubjects,
  TENANT_PATTERN,
  TenantId,
  versionQueueGroup,
  versionSubject,
  versionSubjects,
} from "./subjects.js";
