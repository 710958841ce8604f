// Search results with genre, year and sort filters; the address keeps
// the query so results can be bookmarked and the back button works.
import * as api from './api.js';
import { el, startPage, cardList, params, pager, errorBox, sequence } from './ui.js';

const SORTS = [['relevance', 'Best match'], ['popular', 'Most rated'], ['rating', 'Best rated'], ['year', 'Newest'], ['title', 'Title']];

function field(id, label, input, wide) {
    return el('div', { class: 'field' + (wide ? ' wide' : '') }, el('label', { for: id }, label), input);
}

startPage(async (main) => {
    const p = params();
    const state = {
        q: p.get('q') || '', genre: p.get('genre') || '', year_min: p.get('year_min') || '',
        year_max: p.get('year_max') || '', sort: p.get('sort') || 'relevance', page: Number(p.get('page')) || 1,
    };
    const h1 = main.querySelector('h1');
    const q = el('input', { type: 'search', id: 'sq', name: 'q', value: state.q, placeholder: 'Part of a title' });
    const genre = el('select', { id: 'sgenre', name: 'genre' }, el('option', { value: '' }, 'Any genre'));
    const ymin = el('input', { type: 'number', id: 'symin', name: 'year_min', min: 1870, max: 2100, value: state.year_min, inputmode: 'numeric' });
    const ymax = el('input', { type: 'number', id: 'symax', name: 'year_max', min: 1870, max: 2100, value: state.year_max, inputmode: 'numeric' });
    const sort = el('select', { id: 'ssort', name: 'sort' }, ...SORTS.map(([v, t]) => el('option', { value: v, selected: v === state.sort }, t)));
    const form = el('form', { class: 'filters', role: 'search', 'aria-label': 'Search with filters' },
        field('sq', 'Title', q, true), field('sgenre', 'Genre', genre), field('symin', 'From year', ymin), field('symax', 'To year', ymax),
        field('ssort', 'Sort', sort), el('button', { type: 'submit' }, 'Search'));
    const out = el('div', { id: 'results' });
    main.append(form, out);
    api.genres().then((d) => {
        for (const g of d.genres) genre.append(el('option', { value: g.name, selected: g.name === state.genre }, g.name));
    }, () => {});

    const next = sequence();
    async function show() {
        const fresh = next();
        const shown = Object.fromEntries(Object.entries(state).filter(([k, v]) => v !== '' && !(k === 'page' && v === 1) && !(k === 'sort' && v === 'relevance')));
        history.replaceState(null, '', '?' + new URLSearchParams(shown));
        h1.textContent = state.q ? `Search: “${state.q}”` : 'Search';
        document.title = h1.textContent + ' · movierec';
        if (!state.q && !state.genre && !state.year_min && !state.year_max) {
            out.replaceChildren(el('p', {}, 'Type part of a title (small typos are fine), or pick a genre or years.'));
            return;
        }
        out.replaceChildren(el('p', { class: 'loading' }, 'Searching…'));
        try {
            const query = { ...state, per_page: 24 };
            const d = state.q ? await api.search(query) : await api.movies({ ...query, sort: state.sort === 'relevance' ? 'popular' : state.sort });
            if (!fresh()) return; // a newer search has started
            if (!d.movies.length) {
                out.replaceChildren(el('p', { class: 'message', role: 'status' }, 'No movie matches. Try fewer words, or remove a filter.'));
                return;
            }
            out.replaceChildren(el('p', { role: 'status' }, `${d.total.toLocaleString()} movie${d.total === 1 ? '' : 's'} found`),
                cardList(d.movies, { label: 'Search results' }),
                pager(d, (n) => { state.page = n; show().then(() => main.focus()); }));
        } catch (e) {
            if (!fresh()) return;
            if (e.status === 400) out.replaceChildren(el('p', { class: 'message error', role: 'alert' }, e.message));
            else out.replaceChildren(errorBox(e, 'Search'));
        }
    }
    form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        Object.assign(state, { q: q.value.trim(), genre: genre.value, year_min: ymin.value, year_max: ymax.value, sort: sort.value, page: 1 });
        const header = document.getElementById('q');
        if (header) header.value = state.q;
        show();
    });
    genre.addEventListener('change', () => form.requestSubmit());
    sort.addEventListener('change', () => form.requestSubmit());
    await show();
});
