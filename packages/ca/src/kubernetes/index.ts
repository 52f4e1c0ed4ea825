export {
  createTokenReviewAuthenticator,
  identityFromTokenReview,
  NODE_NAME_EXTRA,
  type TokenReviewApi,
  type TokenReviewAuthenticatorOptions,
} from './token-review.ts';
