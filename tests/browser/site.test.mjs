// The web pages end to end in Debian's Chromium, driven by playwright-core
// (no downloaded browser): register → welcome (genres, ratings) →
// recommendations → a movie → rate it → my page changed → search →
// a similar movie → log out; a taken name; a wrong password; error
// states; phone width; keyboard use. A screenshot of every page goes to
// $SHOTS for people to look at.
//   BASE=http://127.0.0.1:PORT SHOTS=dir node --test tests/browser/
// (tests/browser/run.sh starts a server on a small trained world first)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const BASE = process.env.BASE;
const SHOTS = process.env.SHOTS || 'screenshots';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!BASE) throw new Error('set BASE to the server, e.g. http://127.0.0.1:8080');
mkdirSync(SHOTS, { recursive: true });

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const PASSWORD = 'a long enough password';
const NAME = 'alice' + Date.now().toString(36); // registers through the pages
const OTHER = 'bob' + Date.now().toString(36); // registered by before(), for the other tests
let browser;
const pageErrors = [];

before(async () => {
    browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
    const r = await fetch(BASE + '/v1/auth/register', {
        method: 'POST', headers: { 'Content-Type': 'application/json', Origin: BASE },
        body: JSON.stringify({ name: OTHER, password: PASSWORD, genres: ['Drama', 'Comedy'] }),
    });
    assert.equal(r.status, 201, 'the second account is made');
});
after(async () => {
    if (browser) await browser.close();
});

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

async function newPage(viewport = DESKTOP, extra = {}) {
    const context = await browser.newContext({ viewport, baseURL: BASE, ...extra });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    page.setDefaultTimeout(15000);
    return page;
}

async function shot(page, name) {
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

// every request of the page answered and its main part rendered
async function settled(page) {
    await page.waitForSelector('main[aria-busy="false"]');
    await page.waitForLoadState('networkidle');
}

async function login(page, name = OTHER, password = PASSWORD) {
    await page.goto('/login.html');
    await page.fill('#name', name);
    await page.fill('#password', password);
    await page.click('main button[type=submit]');
    await page.waitForURL('**/me.html');
    await settled(page);
}

// clicks the half star for score (0.5–5) in a rating control
async function rateWith(control, score) {
    await control.locator(`label[for$="-${Math.round(score * 2)}"]`).click();
}

// a movie's genres, as the API gives them
async function recIdsGenres(page, id) {
    return (await (await page.request.get(`/v1/movies/${id}`)).json()).movie.genres;
}

const recIds = (page) => page.$$eval('#recommendations li.card', (l) => l.map((e) => e.dataset.movieId));

test('the whole visit: register, welcome, recommendations, rate, search, similar, log out', async () => {
    const page = await newPage();

    // a visitor sees genre rows and no personal row
    await page.goto('/');
    await settled(page);
    assert.ok(await page.locator('main section .row li.card').count() > 5, 'genre rows have movies');
    assert.equal(await page.locator('#rec-h').count(), 0, 'no personal row for visitors');
    await shot(page, '01-home-visitor');

    // register
    await page.click('.site-nav >> text=Register');
    await page.waitForURL('**/register.html');
    await page.fill('#name', NAME);
    await page.fill('#password', PASSWORD);
    await page.fill('#password2', PASSWORD);
    await page.selectOption('#gender', 'F');
    await page.fill('#age', '29');
    await shot(page, '02-register');
    await page.click('main button[type=submit]');

    // welcome: genres, then rate a few well-known movies
    await page.waitForURL('**/welcome.html');
    await settled(page);
    const boxes = page.locator('#pick-genres input[name=genre]');
    assert.ok(await boxes.count() >= 5, 'genres offered');
    await boxes.nth(0).check();
    await boxes.nth(2).check();
    await shot(page, '03-welcome-genres');
    await page.click('#pick-genres button[type=submit]');
    await page.waitForSelector('#onboarding-movies li.card');
    const cards = page.locator('#onboarding-movies li.card');
    assert.ok(await cards.count() >= 6, 'well-known movies offered');
    for (let i = 0; i < 4; i++) {
        await rateWith(cards.nth(i).locator('fieldset.stars'), i < 3 ? 5 : 1.5);
        await page.waitForSelector(`#rated-count:has-text("You rated ${i + 1} movie")`);
    }
    const ratedTitles = await cards.locator('a.title').evaluateAll((l) => l.slice(0, 4).map((a) => a.textContent));
    await shot(page, '04-welcome-rate');
    await page.click('#see-recs');

    // my page: recommendations with reasons, my ratings, genres chart
    await page.waitForURL('**/me.html');
    await settled(page);
    const before = await recIds(page);
    assert.ok(before.length >= 5, 'recommendations appear');
    assert.ok(await page.locator('#recommendations .reason').count() >= 5, 'each with a reason');
    assert.equal(await page.locator('#my-ratings tbody tr').count(), 4, 'the four ratings are listed');
    for (const t of ratedTitles) assert.ok(await page.locator('#my-ratings').getByText(t, { exact: true }).count(), `${t} listed`);
    assert.ok(await page.locator('#genre-chart li').count() >= 1, 'favourite genres chart');
    await shot(page, '05-my-page');

    // home now has the personal row
    await page.goto('/');
    await settled(page);
    assert.ok(await page.locator('#rec-h').count(), 'recommended row for a logged-in user');
    await shot(page, '06-home-logged-in');

    // open a recommended movie and rate it
    await page.goto('/me.html');
    await settled(page);
    const first = page.locator('#recommendations li.card').first();
    const title = await first.locator('a.title').textContent();
    const movieId = await first.getAttribute('data-movie-id');
    await first.locator('a.title').click();
    await page.waitForURL(`**/movie.html?id=${movieId}`);
    await settled(page);
    assert.equal(await page.locator('h1').textContent(), title);
    assert.match(await page.locator('#predicted').textContent(), /Predicted for you: \d+%/);
    assert.ok(await page.locator('.poster[role=img]').first().getAttribute('aria-label'), 'poster labelled');
    assert.equal(await page.locator('#my-rating .clear').isVisible(), false, 'nothing to remove yet');
    await rateWith(page.locator('#my-rating'), 4);
    await page.waitForSelector('#my-rating + .status:has-text("Saved: 4 stars")');
    assert.ok(await page.locator('#my-rating .clear').isVisible(), '"Remove rating" once rated');
    await page.fill('#new-tag', 'rainy sunday');
    await page.click('.tag-form button');
    await page.waitForSelector('.chips[aria-label="Your tags"] li:has-text("rainy sunday")');
    await shot(page, '07-movie');

    // my page: the rating is there, the recommendations changed
    await page.click('.site-nav >> text=My page');
    await page.waitForURL('**/me.html');
    await settled(page);
    const row = page.locator('#my-ratings tbody tr', { hasText: title });
    await row.waitFor();
    assert.match(await row.locator('td').nth(1).textContent(), /^★★★★ 4$/, 'my rating of 4 shown');
    const after1 = await recIds(page);
    assert.notDeepEqual(after1, before, 'recommendations changed after the rating');
    assert.ok(!after1.includes(movieId), 'a rated movie is not recommended');

    // rate one right on my page: the list is made again without a reload
    await page.evaluate(() => (window.__same_page = true));
    const top = page.locator('#recommendations li.card').first();
    const topId = await top.getAttribute('data-movie-id');
    await rateWith(top.locator('fieldset.stars'), 5);
    await page.waitForSelector('#me-status:has-text("made again")');
    await page.waitForFunction((id) => ![...document.querySelectorAll('#recommendations li.card')].some((e) => e.dataset.movieId === id), topId);
    assert.equal(await page.evaluate(() => window.__same_page), true, 'no page reload');
    await page.waitForFunction(() => document.querySelectorAll('#my-ratings tbody tr').length === 6);
    // sorting the ratings by score: the column goes down (by time it does not: 5, 4, 1.5, ...)
    const scores = async () => (await page.locator('#my-ratings tbody tr td:nth-child(2)').allTextContents()).map((t) => Number(t.split(' ').pop()));
    assert.notDeepEqual(await scores(), [...(await scores())].sort((a, b) => b - a), 'by time first');
    await page.click('#my-ratings th button:has-text("My rating")');
    await page.waitForSelector('#my-ratings th[aria-sort="descending"]:has-text("My rating")');
    const sorted = await scores();
    assert.deepEqual(sorted, [...sorted].sort((a, b) => b - a), 'sorted by my rating');
    assert.equal(await page.evaluate(() => document.activeElement.dataset.sort), 'score', 'focus stays on the sort button');

    // search by part of a title: live suggestions, then the results page
    const word = title.split(/\s+/).find((w) => w.length >= 5) || title.split(/\s+/)[0];
    const part = word.slice(0, Math.max(3, word.length - 2));
    await page.fill('#q', part);
    await page.waitForSelector('#suggestions:not([hidden]) li[role=option]');
    await shot(page, '08-suggestions');
    await page.press('#q', 'Enter');
    await page.waitForURL('**/search.html?q=*');
    await settled(page);
    await page.waitForSelector('#results li.card');
    assert.ok(await page.locator('#results a.title', { hasText: title }).count(), `“${part}” finds ${title}`);
    await shot(page, '09-search');
    // the genre filter narrows the results to that genre
    const total = Number((await page.locator('#results p[role=status]').textContent()).replace(/[^0-9]/g, ''));
    const wanted = (await recIdsGenres(page, movieId))[0];
    const answered = page.waitForResponse((r) => r.url().includes('/v1/search') && r.url().includes('genre='));
    await page.selectOption('#sgenre', wanted);
    await answered;
    await page.waitForFunction(() => !document.querySelector('#results .loading'));
    const filtered = await page.locator('#results p[role=status]').textContent();
    assert.ok(Number(filtered.replace(/[^0-9]/g, '')) <= total, 'no more results than without the filter');
    for (const id of (await page.$$eval('#results li.card', (l) => l.map((e) => e.dataset.movieId))).slice(0, 5))
        assert.ok((await recIdsGenres(page, id)).includes(wanted), `movie ${id} is ${wanted}`);

    // a similar movie opens that movie
    await page.goto(`/movie.html?id=${movieId}`);
    await settled(page);
    const sim = page.locator('section[aria-labelledby=similar-h] li.card').first();
    const simTitle = await sim.locator('a.title').textContent();
    const simId = await sim.getAttribute('data-movie-id');
    await sim.locator('a.title').click();
    await page.waitForURL(`**/movie.html?id=${simId}`);
    await settled(page);
    assert.equal(await page.locator('h1').textContent(), simTitle);
    await shot(page, '10-similar-movie');

    // profile
    await page.click('.site-nav >> text=Profile');
    await page.waitForURL('**/profile.html');
    await settled(page);
    await page.fill('#occupation', 'writer');
    await page.fill('#tags', 'space, heists');
    await page.click('#profile-form button[type=submit]');
    await page.waitForSelector('#profile-saved');
    await page.reload();
    await settled(page);
    assert.equal(await page.inputValue('#occupation'), 'writer');
    assert.equal(await page.inputValue('#tags'), 'space, heists');
    await shot(page, '11-profile');

    // log out
    await page.click('#logout');
    await page.waitForURL(BASE + '/');
    await settled(page);
    assert.ok(await page.locator('.site-nav >> text=Log in').count(), 'logged out');
    await page.goto('/me.html');
    await settled(page);
    assert.ok(await page.locator('main .message a[href^="/login.html"]').count(), 'my page asks to log in');
    await page.context().close();
});

test('a taken name is refused with a clear message', async () => {
    const page = await newPage();
    await page.goto('/register.html');
    await page.fill('#name', OTHER.toUpperCase());
    await page.fill('#password', PASSWORD);
    await page.fill('#password2', PASSWORD);
    await page.click('main button[type=submit]');
    await page.waitForSelector('#register-error');
    assert.match(await page.textContent('#register-error'), /is taken/);
    assert.ok(page.url().endsWith('/register.html'));
    await shot(page, '12-register-taken');
    // mismatched passwords never reach the server
    await page.fill('#name', 'someone new');
    await page.fill('#password2', 'something else');
    await page.click('main button[type=submit]');
    await page.waitForSelector('#register-error:has-text("differ")');
    await page.context().close();
});

test('a wrong password and an unknown name at login', async () => {
    const page = await newPage();
    await page.goto('/login.html');
    await page.fill('#name', OTHER);
    await page.fill('#password', 'not the password');
    await page.click('main button[type=submit]');
    await page.waitForSelector('#login-error');
    assert.match(await page.textContent('#login-error'), /Wrong password/);
    await shot(page, '13-login-wrong-password');
    await page.fill('#name', 'nobody-' + OTHER);
    await page.fill('#password', 'whatever123');
    await page.click('main button[type=submit]');
    await page.waitForSelector('#unknown-name');
    await page.click('#unknown-name a');
    await page.waitForURL('**/register.html?name=*');
    assert.equal(await page.inputValue('#name'), 'nobody-' + OTHER, 'registration starts with that name');
    await page.context().close();
});

test('error states: not found, unknown page, server unreachable, session ended', async () => {
    const page = await newPage();
    await page.goto('/movie.html?id=987654');
    await settled(page);
    assert.match(await page.textContent('main'), /There is no movie #987654/);
    await shot(page, '14-movie-not-found');

    const res = await page.goto('/no/such/page');
    assert.equal(res.status(), 404);
    await settled(page);
    assert.match(await page.textContent('h1'), /Page not found/);
    await shot(page, '15-page-not-found');

    await page.route('**/v1/**', (route) => route.abort('connectionrefused'));
    await page.goto('/');
    await settled(page);
    assert.ok(await page.locator('#banner:not([hidden])').isVisible());
    assert.match(await page.textContent('#banner'), /Cannot reach the movierec server/);
    await shot(page, '16-server-unreachable');
    await page.unroute('**/v1/**');

    await login(page);
    // a write that cannot reach the server says so and keeps nothing
    await page.goto('/movie.html?id=4');
    await settled(page);
    await page.route('**/v1/me/ratings/**', (route) => route.abort('connectionrefused'));
    await rateWith(page.locator('#my-rating'), 2);
    await page.waitForSelector('#my-rating + .status:has-text("Not saved: the server cannot be reached")');
    assert.ok(await page.locator('#banner:not([hidden])').isVisible());
    await page.waitForFunction(() => !document.querySelector('#my-rating input:checked'));
    await page.unroute('**/v1/me/ratings/**');
    await page.reload();
    await settled(page);
    assert.equal(await page.locator('#my-rating input:checked').count(), 0, 'nothing was saved');

    await page.context().clearCookies(); // the session is gone (expired, or ended elsewhere)
    await page.goto('/me.html');
    await settled(page);
    assert.match(await page.textContent('#session-expired'), /session has ended/);
    await shot(page, '17-session-ended');
    await page.context().close();
});

test('posters: real ones from (a fake) TMDB through the server, generated ones otherwise, never a broken image', async () => {
    const withPoster = (process.env.POSTER_MOVIES || '').trim().split(/\s+/).filter(Boolean);
    assert.ok(withPoster.length > 0, 'run.sh names the movies the fake TMDB has posters for');
    const page = await newPage();
    // the picture (200 × 300 PNG) covers the generated poster once loaded
    await page.goto(`/movie.html?id=${withPoster[0]}`);
    await settled(page);
    await page.waitForSelector('.poster-wrap .poster img.loaded');
    assert.equal(await page.$eval('.poster-wrap .poster img', (i) => i.naturalWidth), 200);
    assert.equal(await page.locator('.poster-wrap .poster svg').count(), 1, 'the generated one stays beneath');
    await shot(page, '18-movie-with-poster');
    // TMDB has none for this one: the picture is dropped, the generated poster shows
    await page.goto('/movie.html?id=10');
    await settled(page);
    await page.waitForFunction(() => !document.querySelector('.poster-wrap .poster img'));
    assert.ok((await page.locator('.poster-wrap .poster svg text').first().textContent()).length > 0, 'generated poster drawn');
    // the server remembers it has none: it is no longer offered
    const again = await (await page.request.get('/v1/movies/10')).json();
    assert.equal(again.movie.poster_url, null);
    // no image anywhere is broken
    for (const path of ['/', `/movie.html?id=${withPoster[1] || 3}`, '/search.html?q=the']) {
        await page.goto(path);
        await settled(page);
        const broken = await page.$$eval('img', (l) => l.filter((i) => i.complete && i.naturalWidth === 0).length);
        assert.equal(broken, 0, `no broken image on ${path}`);
    }
    await page.context().close();
});

test('keyboard: suggestions with the arrow keys, a rating with the arrow keys', async () => {
    const page = await newPage();
    await login(page);
    await page.goto('/movie.html?id=5');
    await settled(page);
    const title = await page.textContent('h1');
    await page.focus('#q');
    await page.keyboard.type(title.split(/\s+/)[0].slice(0, 4));
    await page.waitForSelector('#suggestions:not([hidden]) li[role=option]');
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.getAttribute('#q', 'aria-activedescendant'), 'suggestion-0');
    const chosen = await page.textContent('#suggestion-0 span');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/movie.html?id=*');
    await settled(page);
    assert.equal(await page.textContent('h1'), chosen);
    // tab into the stars, arrows move the rating, each move is saved
    await page.focus('#my-rating input >> nth=5'); // 3 stars
    await page.keyboard.press('Space');
    await page.waitForSelector('#my-rating + .status:has-text("Saved: 3 stars")');
    await page.keyboard.press('ArrowRight');
    await page.waitForSelector('#my-rating + .status:has-text("Saved: 3.5 stars")');
    // remove it: the button goes, focus goes back to the stars, the reload shows no rating
    await page.focus('#my-rating .clear');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#my-rating + .status:has-text("Rating removed")');
    await page.waitForSelector('#my-rating .clear', { state: 'hidden' });
    assert.equal(await page.evaluate(() => document.activeElement.name?.startsWith('stars')), true, 'focus back on the stars');
    await page.reload();
    await settled(page);
    assert.equal(await page.locator('#my-rating input:checked').count(), 0, 'no rating after the reload');
    // every form control has a label
    for (const path of ['/', '/movie.html?id=5', '/me.html', '/profile.html', '/search.html?q=a', '/register.html', '/login.html']) {
        await page.goto(path);
        await settled(page);
        const unlabelled = await page.$$eval('input:not([type=hidden]), select', (l) =>
            l.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map((e) => e.outerHTML));
        assert.deepEqual(unlabelled, [], `labels on ${path}`);
    }
    await page.context().close();
});

test('phone width: no page scrolls sideways', async () => {
    const page = await newPage(PHONE);
    await login(page);
    const pages = [['home', '/'], ['movie', '/movie.html?id=7'], ['genre', '/genre.html?name=Drama'], ['search', '/search.html?q=the'],
        ['me', '/me.html'], ['welcome', '/welcome.html'], ['profile', '/profile.html'], ['not-found', '/nowhere']];
    for (const [name, path] of pages) {
        await page.goto(path);
        await settled(page);
        const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
        assert.ok(scroll <= width, `${path} is ${scroll}px wide at ${width}px`);
        await shot(page, `phone-${name}`);
    }
    // a title far too long for the screen, without a space to break at
    const long = 'Supercalifragilistic'.repeat(12);
    await page.route(/\/v1\/movies\/7$/, async (route) => {
        const r = await route.fetch();
        const j = await r.json();
        j.movie.title = long;
        await route.fulfill({ response: r, json: j });
    });
    await page.goto('/movie.html?id=7');
    await settled(page);
    assert.equal(await page.textContent('h1'), long);
    const [lw, lc] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(lw <= lc, `a long title makes the page ${lw}px wide at ${lc}px`);
    await shot(page, 'phone-long-title');
    await page.unroute(/\/v1\/movies\/7$/);

    await page.context().clearCookies();
    for (const [name, path] of [['login', '/login.html'], ['register', '/register.html']]) {
        await page.goto(path);
        await settled(page);
        const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
        assert.ok(scroll <= width, `${path} is ${scroll}px wide at ${width}px`);
        await shot(page, `phone-${name}`);
    }
    await page.context().close();
});

test('accessibility: axe-core finds no serious WCAG 2 A/AA problem on any page', async () => {
    // bypassCSP only so that axe's own script can be added to the page
    const page = await newPage(DESKTOP, { bypassCSP: true });
    const check = async (path) => {
        await page.goto(path);
        await settled(page);
        await page.addScriptTag({ path: AXE });
        const found = await page.evaluate(async () => {
            const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
            return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
                .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
        });
        assert.deepEqual(found, [], `accessibility problems on ${path}`);
    };
    for (const path of ['/', '/login.html', '/register.html', '/search.html?q=the', '/genre.html?name=Drama', '/movie.html?id=9', '/nowhere'])
        await check(path);
    await login(page);
    for (const path of ['/', '/me.html', '/movie.html?id=9', '/welcome.html', '/profile.html'])
        await check(path);
    await page.context().close();
});

test('no script error on any page', () => {
    assert.deepEqual(pageErrors, []);
});
