/** Renderer entry: pick the bridge, create the store, bind engine events once, load the state, render. */
import { createRoot } from 'react-dom/client';
import { pickBridge } from './bridge/index.js';
import { initStore } from './store/index.js';
import { bindEvents } from './store/bind-events.js';
import { App } from './components/App.js';
import './styles.css';

const bridge = pickBridge();
const store = initStore(bridge);
bindEvents(bridge, store);
void store.getState().load();

createRoot(document.getElementById('root') as HTMLElement).render(<App />);
