// Decides who each request is (res.locals.identity). Until sign-in lands every
// request is anonymous; the accounts work replaces this body.
import type { Express } from 'express';

export function installSession(_app: Express): void {}
