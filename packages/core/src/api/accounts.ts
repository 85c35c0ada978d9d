/**
 * The accounts part of the HTTP API's contract (issue 13): users, browser sessions (sign-in with a
 * password, a session cookie and a CSRF token), a user's own account and API tokens, and the
 * operators' user management. Pure data, like `./schemas.ts`.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { RoleSchema } from './schemas.js';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** The name of the browser session's cookie. */
export const sessionCookieName = 'lifeboat_session';
/** The header a cookie-authenticated unsafe request (POST, PUT, PATCH, DELETE) carries its CSRF token in. */
export const csrfHeader = 'x-csrf-token';
/** Shortest password a user may choose. */
export const passwordMinLength = 12;
/** Longest password (scrypt hashes any length; the bound keeps requests small). */
export const passwordMaxLength = 1024;

/** A user's name: like a tenant's or a server's. */
export const UserNameSchema = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$' });

/** A user as the API shows it (never a password or its hash). */
export const UserSchema = Type.Object({
  name: Type.String(),
  role: RoleSchema,
  tenant: Nullable(Type.String({ description: 'the tenant a customer belongs to; null for staff without one' })),
  email: Nullable(Type.String()),
  createdAt: Type.String(),
});
export type UserView = Static<typeof UserSchema>;
export const UserList = Type.Object({ users: Type.Array(UserSchema) });
export type UserList = Static<typeof UserList>;

/** `POST /v1/auth/sign-in`. */
export const SignIn = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 63 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
export type SignIn = Static<typeof SignIn>;
/** A browser session: its user and the CSRF token its unsafe requests send in `X-CSRF-Token`. */
export const SessionAnswer = Type.Object({ user: UserSchema, csrfToken: Type.String() });
export type SessionAnswer = Static<typeof SessionAnswer>;

/** `GET /v1/account`. */
export const AccountAnswer = Type.Object({ user: UserSchema });
export type AccountAnswer = Static<typeof AccountAnswer>;
/** `PUT /v1/account`: null removes the address. */
export const AccountUpdate = Type.Object({ email: Nullable(Type.String({ format: 'email', maxLength: 254 })) }, { additionalProperties: false });
export type AccountUpdate = Static<typeof AccountUpdate>;
/** `POST /v1/account/password`. Length is checked by the route (`PASSWORD_WEAK`), not the schema. */
export const PasswordChange = Type.Object({ current: Type.String({ maxLength: 1024 }), new: Type.String({ maxLength: 4096 }) }, { additionalProperties: false });
export type PasswordChange = Static<typeof PasswordChange>;

/** One of a user's own API tokens (never the token itself). */
export const OwnTokenSchema = Type.Object({ id: Type.String(), name: Type.String(), createdAt: Type.String() });
export type OwnTokenView = Static<typeof OwnTokenSchema>;
export const OwnTokenList = Type.Object({ tokens: Type.Array(OwnTokenSchema) });
export type OwnTokenList = Static<typeof OwnTokenList>;
/** `POST /v1/account/tokens`. */
export const NewOwnToken = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });
export type NewOwnToken = Static<typeof NewOwnToken>;
/** The answer with the token's secret: shown this once. */
export const OwnTokenCreated = Type.Object({ id: Type.String(), name: Type.String(), token: Type.String() });
export type OwnTokenCreated = Static<typeof OwnTokenCreated>;

/** `POST /v1/users` (operator). Without `password`, one is generated and answered once. */
export const NewUser = Type.Object(
  {
    name: UserNameSchema,
    role: RoleSchema,
    tenant: Type.Optional(Type.String()),
    email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
    password: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: false },
);
export type NewUser = Static<typeof NewUser>;
/** The new user, with the generated password when none was given (shown this once). */
export const UserCreated = Type.Object({ user: UserSchema, password: Type.Optional(Type.String()) });
export type UserCreated = Static<typeof UserCreated>;
/** `{name}` of `/v1/users/{name}`. */
export const UserNameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }) });
export type UserNameParams = Static<typeof UserNameParams>;
