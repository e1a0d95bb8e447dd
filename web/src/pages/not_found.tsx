import { Link } from '../router.tsx';

export function NotFoundPage() {
  return (
    <div class="page narrow">
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        There is no page at this address. <Link href="/">Find a spot</Link> instead.
      </p>
    </div>
  );
}
