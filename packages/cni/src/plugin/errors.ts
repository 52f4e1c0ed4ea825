// CNI error codes (spec 1.0.0, "Error"), plus ours from 100.

export const CNI_ERROR = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  containerUnknown: 3,
  invalidEnv: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  /** The node agent refused or failed to enroll a mesh pod (fail closed). */
  enrollmentFailed: 100,
  /** CHECK found the pod's interception missing or wrong. */
  checkFailed: 101,
} as const;

export type CniErrorCode = (typeof CNI_ERROR)[keyof typeof CNI_ERROR];

export interface CniError {
  readonly code: CniErrorCode;
  readonly msg: string;
  readonly details?: string;
}

export const cniError = (code: CniErrorCode, msg: string, details?: string): CniError =>
  details === undefined ? { code, msg } : { code, msg, details };
