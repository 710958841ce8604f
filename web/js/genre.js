// One genre's movies, sorted and paged (the home page's "more").
import * as api from './api.js';
import { el, startPage, cardList, params, pager, errorBox, sequence } from './ui.js';

const SORTS = [['popular', 'Most rated'], ['rating', 'Best rated'], ['year', 'Newest'], ['title', 'Title']];

startPage(async (main) => {
    const p = params();
    const name = p.get('name') || '';
    let sort = p.get('sort') || 'popular';
    let page = Number(p.get('page')) || 1;
    const h1 = main.querySelector('h1');
    h1.textContent = name ? `${name} movies` : 'All movies';
    document.title = h1.textContent + ' · movierec';
    const select = el('select', { id: 'sort' }, ...SORTS.map(([v, t]) => el('option', { value: v, selected: v === sort }, t)));
    const controls = el('div', { class: 'filters' }, el('div', { class: 'field' }, el('label', { for: 'sort' }, 'Sort by'), select));
    const out = el('div', { id: 'results' });
    main.append(controls, out);

    const next = sequence();
    async function show() {
        const fresh = next();
        const u = new URLSearchParams({ name, sort, page });
        history.replaceState(null, '', '?' + u);
        out.replaceChildren(el('p', { class: 'loading' }, 'Loading…'));
        try {
            const d = await api.movies({ genre: name, sort, page, per_page: 24 });
            if (!fresh()) return;
            if (!d.movies.length) {
                out.replaceChildren(el('p', { class: 'message' }, name ? `No movies in the genre “${name}”.` : 'No movies yet.'));
                return;
            }
            out.replaceChildren(el('p', {}, `${d.total.toLocaleString()} movies`), cardList(d.movies), pager(d, (n) => {
                page = n;
                show().then(() => main.focus());
            }));
        } catch (e) {
            if (fresh()) out.replaceChildren(errorBox(e, name || 'Movies'));
        }
    }
    select.addEventListener('change', () => {
        sort = select.value;
        page = 1;
        show();
    });
    await show();
});
