import { render } from 'preact';
import { App } from './app.tsx';
import { refreshSession } from './session.ts';
import './styles.css';

refreshSession();
render(<App />, document.getElementById('app')!);
