// Account documents (sign-in, sign-up and sign-out use the /auth routes: session.ts).

export const VERIFY_EMAIL = `mutation VerifyEmail($token: String!, $password: String) {
  verifyEmail(input: { token: $token, password: $password }) { result }
}`;
export const RESEND_VERIFICATION = `mutation ResendVerification { resendVerificationEmail(input: {}) { result } }`;
export const FORGOT_PASSWORD = `mutation ForgotPassword($email: String!) { forgotPassword(input: { email: $email }) { result } }`;
export const RESET_PASSWORD = `mutation ResetPassword($token: String!, $password: String!) {
  resetPassword(input: { token: $token, newPassword: $password }) { result }
}`;
export const CHANGE_PASSWORD = `mutation ChangePassword($old: String!, $new: String!) {
  changePassword(input: { oldPassword: $old, newPassword: $new }) { result }
}`;
export const UPDATE_NAME = `mutation UpdateName($id: BigInt!, $name: String!) {
  updateUser(input: { rowId: $id, patch: { name: $name } }) { user { rowId name } }
}`;

export interface SessionInfo {
  rowId: string;
  method: string | null;
  createdAt: string;
  lastActiveAt: string | null;
  expiresAt: string | null;
  isCurrent: boolean;
}
export const MY_SESSIONS = `query MySessions { mySessions(first: 50) { nodes { rowId method createdAt lastActiveAt expiresAt isCurrent } } }`;
export interface MySessionsData {
  mySessions: { nodes: SessionInfo[] } | null;
}
export const REVOKE_SESSION = `mutation RevokeSession($id: UUID!) { revokeSession(input: { sessionId: $id }) { result } }`;

export const SIGN_IN_PROVIDERS = `query SignInProviders { signInProviders }`;
export interface SignInProvidersData {
  signInProviders: string[];
}

/** A signed-in driver's saved vehicles (listed with MY_VEHICLES, api/reservations.ts): saving a plate again changes its label. */
export const SAVE_VEHICLE = `mutation SaveVehicle($plate: String!, $plateState: String, $label: String) {
  saveVehicle(input: { plate: $plate, plateState: $plateState, label: $label }) { result { rowId plate plateState label } }
}`;
export const REMOVE_VEHICLE = `mutation RemoveVehicle($id: BigInt!) { removeVehicle(input: { vehicleId: $id }) { result { rowId } } }`;
