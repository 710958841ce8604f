// Profile: personal information and interest tags (favourite genres and
// free tags), which steer the cold-start recommendations at once.
import * as api from './api.js';
import { el, startPage, loginNeeded, errorBox, formatDate, OCCUPATIONS } from './ui.js';

startPage(async (main, user) => {
    if (!user) {
        main.append(loginNeeded());
        return;
    }
    const [prof, all] = await Promise.all([api.profile(), api.genres()]);
    const u = prof.user;
    main.append(el('p', {}, `Name: ${u.name} · member since ${formatDate(u.created)}`));
    const gender = el('select', { id: 'gender' }, el('option', { value: '' }, 'Rather not say'),
        el('option', { value: 'F', selected: u.gender === 'F' }, 'Female'), el('option', { value: 'M', selected: u.gender === 'M' }, 'Male'));
    const age = el('input', { type: 'number', id: 'age', min: 1, max: 120, value: u.age ?? '', inputmode: 'numeric' });
    const occ = el('input', { type: 'text', id: 'occupation', list: 'occupations', maxlength: 64, value: u.occupation ?? '' });
    const zip = el('input', { type: 'text', id: 'zip', maxlength: 16, value: u.zip ?? '', autocomplete: 'postal-code' });
    const mine = new Set(prof.interests.genres);
    const picker = el('div', { class: 'genre-picker' }, ...all.genres.filter((g) => g.movies > 0).map((g) =>
        el('label', {}, el('input', { type: 'checkbox', name: 'genre', value: g.name, checked: mine.has(g.name) }), el('span', {}, g.name))));
    const tags = el('input', { type: 'text', id: 'tags', value: prof.interests.tags.join(', '), 'aria-describedby': 'tags-hint' });
    const msg = el('div', { id: 'profile-message' });
    const form = el('form', { class: 'stack', id: 'profile-form', novalidate: true },
        el('div', {}, el('label', { for: 'gender' }, 'Gender'), gender),
        el('div', {}, el('label', { for: 'age' }, 'Age'), age),
        el('div', {}, el('label', { for: 'occupation' }, 'Occupation'), occ, el('datalist', { id: 'occupations' }, ...OCCUPATIONS.map((o) => el('option', { value: o })))),
        el('div', {}, el('label', { for: 'zip' }, 'Zip code'), zip),
        el('fieldset', {}, el('legend', {}, 'Favourite genres (interest tags)'), picker),
        el('div', {}, el('label', { for: 'tags' }, 'Other interests'), tags, el('p', { class: 'hint', id: 'tags-hint' }, 'Words separated by commas, e.g. space, heist, Hitchcock.')),
        msg, el('div', {}, el('button', { type: 'submit' }, 'Save')));
    main.append(el('div', { class: 'panel' }, form));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const a = age.value === '' ? null : Number(age.value);
        if (a !== null && (!Number.isInteger(a) || a < 1 || a > 120)) {
            msg.replaceChildren(el('p', { class: 'message error', role: 'alert' }, 'Age is a whole number from 1 to 120, or empty.'));
            age.focus();
            return;
        }
        const body = {
            gender: gender.value || null, age: a, occupation: occ.value.trim() || null, zip: zip.value.trim() || null,
            genres: [...form.querySelectorAll('input[name=genre]:checked')].map((i) => i.value),
            tags: tags.value.split(',').map((t) => t.trim()).filter(Boolean),
        };
        try {
            await api.saveProfile(body);
            msg.replaceChildren(el('p', { class: 'message ok', role: 'status', id: 'profile-saved' }, 'Saved. Your recommendations use it from now on.'));
        } catch (e) {
            msg.replaceChildren(e.status === 400 ? el('p', { class: 'message error', role: 'alert' }, e.message) : errorBox(e, 'Saving'));
        }
    });
});
