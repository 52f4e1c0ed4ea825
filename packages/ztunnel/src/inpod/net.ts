// What in-pod mode needs from the operating system: proxy-core's interception capability
// (sockets inside a pod's network namespace, marked so the pod's rules skip them, and the
// original destination of a redirected connection). Tests pass a fake.
import { type InterceptionNet, type InterceptionNetResult, loadInterceptionNet } from '@weft/proxy-core';

/** Default SO_MARK of ztunnel's own sockets in a pod netns (0x539); the rules skip it. */
export const DEFAULT_INPOD_MARK = 1337;

export type InPodNet = InterceptionNet;
export type InPodNetResult = InterceptionNetResult;

/** @weft/linux-net as an InPodNet, or why it cannot be used here. */
export const loadLinuxNet = loadInterceptionNet;
