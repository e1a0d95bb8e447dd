// The page frame (skip link, header with navigation, main, the document's
// title following the page's heading) and the route table.
import type { ComponentType } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { Link, match, navigate, useLocation } from './router.tsx';
import { session, signOut } from './session.ts';
import { AccountPage } from './pages/account.tsx';
import { AcceptInvitePage, ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage } from './pages/email_links.tsx';
import { FindPage } from './pages/find.tsx';
import { MyReservationsPage } from './pages/my_reservations.tsx';
import { NotFoundPage } from './pages/not_found.tsx';
import { ReservationPage } from './pages/reservation.tsx';
import { SignInPage } from './pages/sign_in.tsx';
import { SignUpPage } from './pages/sign_up.tsx';
import { SpotPage } from './pages/spot.tsx';
import { StaffCustomerPage } from './pages/staff_customer.tsx';
import { STAFF_ROLES, StaffCustomersPage } from './pages/staff_customers.tsx';
import { StaffEnforcementPage } from './pages/staff_enforcement.tsx';
import { StaffSpotPage } from './pages/staff_spot.tsx';

type Page = ComponentType<{ params: Record<string, string> }>;

const ROUTES: Array<[string, Page]> = [
  ['/', FindPage],
  ['/spots/:id', SpotPage],
  ['/reservations', MyReservationsPage],
  ['/reservations/:id', ReservationPage],
  ['/reservations/:id/manage', ReservationPage],
  ['/reservations/:id/pay', ReservationPage],
  ['/sign-in', SignInPage],
  ['/sign-up', SignUpPage],
  ['/account', AccountPage],
  ['/verify-email', VerifyEmailPage],
  ['/forgot-password', ForgotPasswordPage],
  ['/reset-password', ResetPasswordPage],
  ['/accept-invite', AcceptInvitePage],
  ['/staff/customers', StaffCustomersPage],
  ['/staff/customers/:id', StaffCustomerPage],
  ['/staff/enforcement', StaffEnforcementPage],
  ['/staff/spots/:id', StaffSpotPage],
];

function resolve(path: string): { Page: Page; params: Record<string, string> } {
  for (const [pattern, Page] of ROUTES) {
    const params = match(pattern, path === '' ? '/' : path);
    if (params) return { Page, params };
  }
  return { Page: NotFoundPage, params: {} };
}

function Header() {
  const state = session.use();
  return (
    <header class="top">
      <Link href="/" class="brand">
        Secure My Spot
      </Link>
      <nav aria-label="Main">
        <ul>
          <li>
            <Link href="/">Find</Link>
          </li>
          {state.status === 'signed-in' ? (
            <>
              {STAFF_ROLES.includes(state.user.role) && (
                <li>
                  <Link href="/staff/customers">Customers</Link>
                </li>
              )}
              {(state.user.role === 'enforcement' || state.user.role === 'admin') && (
                <li>
                  <Link href="/staff/enforcement">Plate check</Link>
                </li>
              )}
              <li>
                <Link href="/reservations">My reservations</Link>
              </li>
              <li>
                <Link href="/account">Account</Link>
              </li>
              <li>
                <button
                  type="button"
                  class="link-button"
                  onClick={async () => {
                    await signOut();
                    navigate('/');
                  }}
                >
                  Sign out
                </button>
              </li>
            </>
          ) : (
            // Not known (the server out of reach): offering to sign in would say this browser is signed out.
            state.status !== 'unknown' && (
              <>
                <li>
                  <Link href="/sign-in">Sign in</Link>
                </li>
                <li>
                  <Link href="/sign-up">Sign up</Link>
                </li>
              </>
            )
          )}
        </ul>
      </nav>
    </header>
  );
}

export function App() {
  const url = useLocation();
  const { Page, params } = resolve(url.pathname);
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // After a navigation, move focus to the new page's heading (screen readers announce it).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    (main.current?.querySelector('h1') as HTMLElement | null)?.focus();
  }, [url.pathname]);
  // Each page's title is its heading (a customer's name once it loads, a reservation's number…).
  useEffect(() => {
    const update = () => {
      const heading = main.current?.querySelector('h1')?.textContent?.trim();
      const title = heading ? `${heading} · Secure My Spot` : 'Secure My Spot';
      if (document.title !== title) document.title = title;
    };
    update();
    const watcher = new MutationObserver(update);
    watcher.observe(main.current!, { childList: true, subtree: true, characterData: true });
    return () => watcher.disconnect();
  }, []);
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" ref={main}>
        <Page params={params} />
      </main>
    </>
  );
}
