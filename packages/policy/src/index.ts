export { spiffeId } from './identity.ts';
