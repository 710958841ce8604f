// Log in. An unknown name leads to registration (paper §3.1); a wrong
// password, an imported account without one, and too many attempts each
// get their own message.
import * as api from './api.js';
import { el, startPage, params, markLoggedIn, showUnreachable } from './ui.js';

// Only a page of this site (never another site) as where to go next; the
// URL parser decides, as the browser will (it drops tabs, reads "\\" as "/").
function safeNext(raw, fallback) {
    if (!raw) return fallback;
    try {
        const u = new URL(raw, location.origin);
        return u.origin === location.origin ? u.pathname + u.search + u.hash : fallback;
    } catch (e) {
        return fallback;
    }
}

startPage(async (main, user) => {
    const next = safeNext(params().get('next'), '/me.html');
    if (user)
        main.append(el('p', { class: 'message ok' }, `You are logged in as ${user.name}. `, el('a', { href: next }, 'Go on'), '.'));
    const name = el('input', { type: 'text', id: 'name', name: 'name', autocomplete: 'username', required: true, maxlength: 64, value: params().get('name') || '' });
    const pass = el('input', { type: 'password', id: 'password', name: 'password', autocomplete: 'current-password', required: true });
    const msg = el('div', { id: 'login-message' });
    const button = el('button', { type: 'submit' }, 'Log in');
    const form = el('form', { class: 'stack', novalidate: true },
        el('div', {}, el('label', { for: 'name' }, 'Name'), name),
        el('div', {}, el('label', { for: 'password' }, 'Password'), pass),
        msg, el('div', {}, button));
    main.append(el('div', { class: 'panel' }, form),
        el('p', {}, 'New here? ', el('a', { href: '/register.html' }, 'Create an account'), '.'));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        msg.replaceChildren();
        if (!name.value.trim() || !pass.value) {
            msg.replaceChildren(el('p', { class: 'field-error', role: 'alert' }, 'Enter your name and your password.'));
            (name.value.trim() ? pass : name).focus();
            return;
        }
        button.disabled = true;
        try {
            await api.login(name.value.trim(), pass.value);
            markLoggedIn(true);
            location.href = next;
            return;
        } catch (e) {
            let text;
            if (e.code === 'unknown_name') {
                const reg = '/register.html?name=' + encodeURIComponent(name.value.trim());
                msg.replaceChildren(el('p', { class: 'message', role: 'alert', id: 'unknown-name' },
                    `There is no account called “${name.value.trim()}”. `, el('a', { href: reg }, 'Create it now'), '?'));
            } else {
                if (e.code === 'wrong_password') text = 'Wrong password. Check it and try again.';
                else if (e.code === 'no_password') text = 'This account was imported from MovieLens and has no password yet. The operator can set one with “movierec user passwd”.';
                else if (e.code === 'too_many_attempts') text = `Too many attempts. Try again in ${Math.max(1, Math.ceil((e.retryAfter || 60) / 60))} minute(s).`;
                else if (e.status === 0) {
                    showUnreachable();
                    text = 'The server cannot be reached; you were not logged in.';
                } else text = e.message;
                msg.replaceChildren(el('p', { class: 'message error', role: 'alert', id: 'login-error' }, text));
                pass.select();
            }
        }
        button.disabled = false;
    });
    name.focus();
});
