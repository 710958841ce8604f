// My page: recommendations with their reasons (rate one right there and
// the list is made again, no reload), my favourite genres as a chart, and
// the movies I rated, sortable.
import * as api from './api.js';
import { el, startPage, cardList, stars, movieHref, errorBox, announce, loginNeeded, formatDate, pager, showUnreachable, sequence } from './ui.js';

let recsBox, genresBox, ratingsBox, statusLine;
let sort = 'time';
let page = 1;
// each list shows only the answer to its newest request
const recsSeq = sequence();
const genresSeq = sequence();
const ratingsSeq = sequence();

async function showRecs() {
    const fresh = recsSeq();
    try {
        const d = await api.recommendations(12);
        if (!fresh()) return;
        if (!d.recommendations.length) {
            recsBox.replaceChildren(el('p', {}, 'Nothing to recommend yet: rate a few movies (search above, or ', el('a', { href: '/' }, 'browse'), ').'));
            return;
        }
        const list = cardList(d.recommendations, {
            label: 'Recommendations',
            each: (m) => ({
                reason: m.reason,
                extra: stars({ small: true, label: `Rate ${m.title}`, onChange: (s) => rateHere(m, s) }),
            }),
        });
        list.id = 'recommendations';
        // the list is made anew: keep the keyboard's place near it
        const hadFocus = recsBox.contains(document.activeElement);
        recsBox.replaceChildren(list);
        if (hadFocus) statusLine.focus();
    } catch (e) {
        if (fresh()) recsBox.replaceChildren(errorBox(e, 'Recommendations'));
    }
}

async function rateHere(m, score) {
    statusLine.textContent = `Saving your rating of ${m.title}…`;
    try {
        await api.rate(m.id, score);
    } catch (e) {
        if (e.status === 0) showUnreachable();
        if (e.status === 401) statusLine.replaceChildren(loginNeeded());
        else statusLine.textContent = 'Not saved: ' + e.message;
        return false;
    }
    statusLine.textContent = `Rated ${m.title} ${score} / 5. Your recommendations were made again.`;
    page = 1;
    await Promise.all([showRecs(), showGenres(), showRatings()]);
    announce('Recommendations updated');
    return true;
}

async function showGenres() {
    const fresh = genresSeq();
    try {
        const d = await api.myGenres();
        if (!fresh()) return;
        if (!d.genres.length) {
            genresBox.replaceChildren(el('p', {}, 'No favourite genres yet: pick some in your ', el('a', { href: '/profile.html' }, 'profile'), ' or rate movies you liked.'));
            return;
        }
        const top = d.genres.slice(0, 8);
        const max = Math.max(...top.map((g) => g.share), 0.0001);
        const ul = el('ul', { class: 'bars', id: 'genre-chart', 'aria-label': 'My favourite genres, by share of the movies I liked' });
        for (const g of top) {
            const fill = el('span');
            fill.style.width = `${Math.max(2, Math.round((g.share / max) * 100))}%`;
            const pct = Math.round(g.share * 100);
            ul.append(el('li', {},
                el('span', {}, g.genre, g.interest ? [el('span', { title: 'one of your interest tags', 'aria-hidden': 'true' }, ' ♥'), el('span', { class: 'visually-hidden' }, ' (interest)')] : null),
                el('span', { class: 'bar', 'aria-hidden': 'true' }, fill),
                el('span', { class: 'pct' }, d.liked ? `${pct}%` : '')));
        }
        genresBox.replaceChildren(ul, el('p', { class: 'hint' }, d.liked
            ? `From the ${d.liked} movie${d.liked === 1 ? '' : 's'} you rated 4 or more, and your interest tags (♥).`
            : 'Your interest tags (♥); the chart fills in as you rate movies 4 or more.'));
    } catch (e) {
        if (fresh()) genresBox.replaceChildren(errorBox(e, 'Favourite genres'));
    }
}

const COLUMNS = [['title', 'Title', 'ascending'], ['score', 'My rating', 'descending'], ['time', 'Rated', 'descending']];

async function showRatings(focusKey) {
    const fresh = ratingsSeq();
    const asked = sort; // the header shows the order of this answer
    try {
        const d = await api.myRatings({ sort: asked, page, per_page: 20 });
        if (!fresh()) return;
        if (!d.total) {
            ratingsBox.replaceChildren(el('p', {}, 'You have not rated any movie yet.'));
            return;
        }
        const head = el('tr', {}, ...COLUMNS.map(([key, text, dir]) => el('th', { scope: 'col', 'aria-sort': key === asked ? dir : 'none' },
            el('button', { type: 'button', 'data-sort': key, onclick: () => { sort = key; page = 1; showRatings(key); } }, text))));
        const rows = d.ratings.map((m) => el('tr', { 'data-movie-id': m.id },
            el('td', {}, el('a', { href: movieHref(m.id) }, m.title), m.year ? ` (${m.year})` : ''),
            el('td', { 'aria-label': `${m.my_rating} out of 5` }, `${'★'.repeat(Math.floor(m.my_rating))}${m.my_rating % 1 ? '½' : ''} ${m.my_rating}`),
            el('td', {}, formatDate(m.rated_at))));
        const table = el('table', { id: 'my-ratings' }, el('caption', { class: 'visually-hidden' }, 'Movies I rated; the column buttons sort'),
            el('thead', {}, head), el('tbody', {}, ...rows));
        ratingsBox.replaceChildren(el('p', {}, `${d.total} movie${d.total === 1 ? '' : 's'} rated.`), el('div', { class: 'table-wrap' }, table),
            d.total > d.per_page ? pager(d, (n) => { page = n; showRatings(); }) : '');
        if (focusKey) ratingsBox.querySelector(`th button[data-sort="${focusKey}"]`).focus();
    } catch (e) {
        if (fresh()) ratingsBox.replaceChildren(errorBox(e, 'My ratings'));
    }
}

startPage(async (main, user) => {
    if (!user) {
        main.append(loginNeeded());
        return;
    }
    main.querySelector('h1').textContent = `${user.name}’s page`;
    statusLine = el('p', { class: 'status', role: 'status', id: 'me-status', tabindex: '-1' });
    recsBox = el('div', {}, el('p', { class: 'loading' }, 'Finding movies for you…'));
    genresBox = el('div', {}, el('p', { class: 'loading' }, 'Loading…'));
    ratingsBox = el('div', {}, el('p', { class: 'loading' }, 'Loading…'));
    main.append(
        el('section', { 'aria-labelledby': 'recs-h' }, el('h2', { id: 'recs-h' }, 'Recommended for you'),
            el('p', { class: 'hint' }, 'Seen one? Rate it here and the list is made again at once.'), statusLine, recsBox),
        el('section', { 'aria-labelledby': 'genres-h' }, el('h2', { id: 'genres-h' }, 'My favourite genres'), genresBox),
        el('section', { 'aria-labelledby': 'rated-h' }, el('h2', { id: 'rated-h' }, 'Movies I rated'), ratingsBox));
    await Promise.all([showRecs(), showGenres(), showRatings()]);
});
