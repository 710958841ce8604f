// The page for an address that does not exist.
import { el, startPage } from './ui.js';

startPage(async (main) => {
    main.append(el('p', {}, 'There is no page at ', el('code', {}, location.pathname), '.'),
        el('p', {}, el('a', { href: '/' }, 'Go to the home page'), ' or search for a movie above.'));
});
