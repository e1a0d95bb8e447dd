// Labelled form controls whose error sentence sits right under the control
// that caused it (aria-describedby + aria-invalid, announced as it appears:
// role="alert"), and form-level messages. A submit button stays focusable
// while its form is busy (aria-disabled, clicks ignored) so that focus does
// not fall to the page, and moves focus to the first field in error once the
// answer comes.
import type { ComponentChildren, InputHTMLAttributes, SelectHTMLAttributes } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { AppError } from '../api/errors.ts';

/** Which codes belong next to which field of a form: { email: ['SMA03', 'SMA06'] }. */
export type FieldCodes = Record<string, string[]>;

export interface PlacedError {
  field(name: string): string | undefined;
  /** The message when it belongs to no field of this form. */
  general: string | undefined;
}

export function placeError(error: AppError | null, codes: FieldCodes): PlacedError {
  const owner = error ? Object.keys(codes).find((name) => codes[name]!.includes(error.code)) : undefined;
  return {
    field: (name) => (error && owner === name ? error.message : undefined),
    general: error && !owner ? error.message : undefined,
  };
}

type InputProps = InputHTMLAttributes<HTMLInputElement> & { id: string; label: string; error?: string; hint?: string };

export function TextField({ id, label, error, hint, ...input }: InputProps) {
  const describedBy = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} name={id} aria-invalid={error ? 'true' : undefined} aria-describedby={describedBy} {...input} />
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

type SelectProps = SelectHTMLAttributes<HTMLSelectElement> & {
  id: string;
  label: string;
  error?: string;
  children: ComponentChildren;
};

export function SelectField({ id, label, error, children, ...select }: SelectProps) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select
        id={id}
        name={id}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        {...select}
      >
        {children}
      </select>
      {error && (
        <p class="field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** A message about the whole form (or page), announced when it appears; with an `id` it can take the focus. */
export function FormError({ message, id }: { message: string | undefined; id?: string }) {
  return (
    <div role="alert" class={message ? 'form-error' : undefined} id={id} tabIndex={id ? -1 : undefined}>
      {message}
    </div>
  );
}

/**
 * A message about what just happened, announced. With an `id` it can take the focus (tabIndex -1): after an
 * action whose button went away, focus goes to the message that says how it went, not to the page.
 */
export function Notice({ children, id }: { children: ComponentChildren; id?: string }) {
  return (
    <div role="status" class="notice" id={id} tabIndex={id ? -1 : undefined}>
      {children}
    </div>
  );
}

/** Moves the focus to the element `id` once the page has drawn it (after an action whose button went away). */
export function focusById(id: string): void {
  setTimeout(() => document.getElementById(id)?.focus());
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      <span class="spinner" aria-hidden="true"></span>Loading {what}…
    </p>
  );
}

/** Focuses the first control of the form that is marked invalid; whether there was one. */
export function focusFirstInvalid(form: HTMLFormElement | null | undefined): boolean {
  const invalid = form?.querySelector<HTMLElement>('[aria-invalid="true"]');
  invalid?.focus();
  return Boolean(invalid);
}

export function SubmitButton({ busy, children }: { busy: boolean; children: ComponentChildren }) {
  const button = useRef<HTMLButtonElement>(null);
  const wasBusy = useRef(busy);
  useEffect(() => {
    // The answer came: a field in error gets the focus (its sentence is read with it).
    if (wasBusy.current && !busy && button.current?.isConnected) focusFirstInvalid(button.current.form);
    wasBusy.current = busy;
  }, [busy]);
  return (
    <button
      ref={button}
      type="submit"
      class="primary"
      aria-disabled={busy ? 'true' : undefined}
      aria-busy={busy ? 'true' : undefined}
      // Not disabled (focus would fall to the page): a click while busy sends nothing.
      onClick={(e) => {
        if (busy) e.preventDefault();
      }}
    >
      {children}
    </button>
  );
}
