// Create an account: name and password, optionally a little about you;
// a taken name is refused with a clear message (paper §3.1). Then on to
// the welcome steps.
import * as api from './api.js';
import { el, startPage, params, markLoggedIn, showUnreachable, OCCUPATIONS } from './ui.js';


startPage(async (main, user) => {
    if (user)
        main.append(el('p', { class: 'message ok' }, `You are logged in as ${user.name}. `, el('a', { href: '/me.html' }, 'Go to your page'), ' or log out to make another account.'));
    const name = el('input', { type: 'text', id: 'name', autocomplete: 'username', required: true, maxlength: 64, value: params().get('name') || '', 'aria-describedby': 'name-hint' });
    const pass = el('input', { type: 'password', id: 'password', autocomplete: 'new-password', required: true, minlength: 8, 'aria-describedby': 'pass-hint' });
    const pass2 = el('input', { type: 'password', id: 'password2', autocomplete: 'new-password', required: true });
    const gender = el('select', { id: 'gender' }, el('option', { value: '' }, 'Rather not say'), el('option', { value: 'F' }, 'Female'), el('option', { value: 'M' }, 'Male'));
    const age = el('input', { type: 'number', id: 'age', min: 1, max: 120, inputmode: 'numeric' });
    const occ = el('input', { type: 'text', id: 'occupation', list: 'occupations', maxlength: 64 });
    const msg = el('div', { id: 'register-message' });
    const button = el('button', { type: 'submit' }, 'Create account');
    const form = el('form', { class: 'stack', novalidate: true },
        el('div', {}, el('label', { for: 'name' }, 'Name'), name, el('p', { class: 'hint', id: 'name-hint' }, 'How others see you; letters, digits, spaces, . _ - (1–64).')),
        el('div', {}, el('label', { for: 'password' }, 'Password'), pass, el('p', { class: 'hint', id: 'pass-hint' }, 'At least 8 characters.')),
        el('div', {}, el('label', { for: 'password2' }, 'Password again'), pass2),
        el('fieldset', {}, el('legend', {}, 'About you (optional, helps the first recommendations)'),
            el('div', { class: 'stack' },
                el('div', {}, el('label', { for: 'gender' }, 'Gender'), gender),
                el('div', {}, el('label', { for: 'age' }, 'Age'), age),
                el('div', {}, el('label', { for: 'occupation' }, 'Occupation'), occ,
                    el('datalist', { id: 'occupations' }, ...OCCUPATIONS.map((o) => el('option', { value: o })))))),
        msg, el('div', {}, button));
    main.append(el('div', { class: 'panel' }, form), el('p', {}, 'Have an account? ', el('a', { href: '/login.html' }, 'Log in'), '.'));

    function fail(text, focus) {
        msg.replaceChildren(el('p', { class: 'message error', role: 'alert', id: 'register-error' }, text));
        if (focus) focus.focus();
    }
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const n = name.value.trim();
        if (!n) return fail('Choose a name.', name);
        if (pass.value.length < 8) return fail('The password needs at least 8 characters.', pass);
        if (pass.value !== pass2.value) return fail('The two passwords differ.', pass2);
        const a = age.value === '' ? null : Number(age.value);
        if (a !== null && (!Number.isInteger(a) || a < 1 || a > 120)) return fail('Age is a whole number from 1 to 120, or empty.', age);
        button.disabled = true;
        try {
            await api.register({ name: n, password: pass.value, gender: gender.value || null, age: a, occupation: occ.value.trim() || null });
            markLoggedIn(true);
            location.href = '/welcome.html';
            return;
        } catch (e) {
            if (e.code === 'name_taken') fail(`The name “${n}” is taken. Choose another, or log in if it is yours.`, name);
            else if (e.code === 'too_many_attempts') fail('Too many attempts from here. Try again later.');
            else if (e.status === 0) {
                showUnreachable();
                fail('The server cannot be reached; no account was made.');
            } else fail(e.message);
        }
        button.disabled = false;
    });
    name.focus();
});
