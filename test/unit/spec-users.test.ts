// How a container's user is read from an image's /etc/passwd and /etc/group: the lines as
// moby/sys/user (containerd's and runc's parser) and glibc read them, and the request's ids with
// their range (moby/sys/user's and containerd's 0..2^31-1). No root, no daemon.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseGroup, parsePasswd, processGroups, resolveUser, type UserRequest } from '../../src/container/spec/users.js';
import { CribError } from '../../src/util/errors.js';

const invalid = (f: () => unknown, msg: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument' && msg.test(e.message));

/** One past the largest id containerd and runc take (an int32). */
const PAST_INT32 = String(2 ** 31);

describe('/etc/passwd and /etc/group lines', () => {
  it('trims each line (indented lines, CRLF files) as moby/sys/user does', () => {
    assert.deepEqual(parsePasswd('  app:x:1000:1000::/home/app:/bin/sh\r\n\tweb:x:1001:1001::/srv:/bin/sh  \r\n'), [
      { name: 'app', uid: 1000, gid: 1000 },
      { name: 'web', uid: 1001, gid: 1001 },
    ]);
    assert.deepEqual(parseGroup('  staff:x:50:app\r\n'), [{ name: 'staff', gid: 50, members: ['app'] }]);
  });

  it('skips comments and NIS compat entries only at the start of a line', () => {
    // glibc's getpwnam/getpwuid skip `+`/`-` entries; `#` starts a comment (moby/sys/user, glibc).
    const passwd = ['#app:x:5:5::/:/bin/sh', '+nis:x:6:6::/:/bin/sh', '-nis:x:7:7::/:/bin/sh', 'cxx:x:1003:1003:C++', 'hash:x:1004:1004:Room #'].join('\n');
    assert.deepEqual(parsePasswd(passwd), [
      { name: 'cxx', uid: 1003, gid: 1003 },
      { name: 'hash', uid: 1004, gid: 1004 },
    ]);
    // A user name may end in `-` (shadow's NAME_REGEX), so a member list may too.
    assert.deepEqual(parseGroup('#g:x:5:app\n+g:x:6:app\n-g:x:7:app\nbuilders:x:3000:app,ci-'), [{ name: 'builders', gid: 3000, members: ['app', 'ci-'] }]);
  });

  it('takes a line once it has the ids, and an empty member list as no members', () => {
    // moby/sys/user reads the fields a line has: name, password, uid, gid (passwd); name, password, gid (group).
    assert.deepEqual(parsePasswd('short:x:7:8'), [{ name: 'short', uid: 7, gid: 8 }]);
    assert.deepEqual(parsePasswd('tooshort:x:7'), []);
    assert.deepEqual(parseGroup('g:x:5'), [{ name: 'g', gid: 5, members: [] }]);
    assert.deepEqual(parseGroup('g:x:5:'), [{ name: 'g', gid: 5, members: [] }]);
    assert.deepEqual(parseGroup('g:x'), []);
  });

  it('skips a line whose id is not a decimal number (glibc does; moby/sys/user would read it as 0)', () => {
    assert.deepEqual(parsePasswd('a:x:10x:1\nb:x:x10:1\nd:x::1\ne:x:0x10:1\nf:x:1:2y'), []);
    assert.deepEqual(parseGroup('a:x:5x:app\nb:x:x5:app\nc:x::app'), []);
  });

  it('keeps an entry with an empty name (moby/sys/user and glibc do): its ids still count', () => {
    assert.deepEqual(parsePasswd(':x:5:6::/:/bin/sh'), [{ name: '', uid: 5, gid: 6 }]);
    assert.deepEqual(parseGroup(':x:9:app'), [{ name: '', gid: 9, members: ['app'] }]);
    assert.deepEqual(resolveUser({ runAsUser: 5, supplementalGroups: [], passwd: ':x:5:6::/:/bin/sh' }), { uid: 5, gid: 6, additionalGids: [] });
  });
});

describe("the container's user from the request and the image", () => {
  const passwd = [
    'root:x:0:0:root:/root:/bin/sh',
    'app:x:1000:1000::/home/app:/bin/sh',
    'app:x:2000:2000::/home/app2:/bin/sh',
    'other:x:1000:3000::/:/bin/sh',
  ].join('\n');
  const group = ['root:x:0:', 'wheel:x:10:root,app', 'www:x:33:', 'www:x:34:', 'audio:x:29:app'].join('\n');
  const user = (o: Partial<UserRequest>) => resolveUser({ supplementalGroups: [], passwd, group, ...o });

  it("is uid 0 with uid 0's entry when nothing is asked, wherever root's line is", () => {
    // moby/sys/user's GetExecUser with an empty spec looks up the default uid, 0.
    const late = 'daemon:x:1:1::/:/bin/sh\nroot:x:0:0::/root:/bin/sh';
    assert.deepEqual(resolveUser({ supplementalGroups: [], passwd: late, group: 'adm:x:4:root\nbin:x:2:daemon' }), { uid: 0, gid: 0, additionalGids: [4] });
  });

  it('takes the first entry of a name or uid, as moby/sys/user does', () => {
    assert.deepEqual(user({ imageUser: 'app' }), { uid: 1000, gid: 1000, additionalGids: [10, 29] });
    assert.deepEqual(user({ runAsUsername: 'app' }).uid, 1000);
    assert.deepEqual(user({ runAsUser: 1000 }).gid, 1000);
    assert.deepEqual(user({ imageUser: 'app:www' }).gid, 33);
  });

  it('takes a numeric run_as_username or image User as a uid, with that uid’s entry', () => {
    assert.deepEqual(user({ runAsUsername: '1000' }), { uid: 1000, gid: 1000, additionalGids: [10, 29] });
    assert.deepEqual(user({ imageUser: '0' }), { uid: 0, gid: 0, additionalGids: [10] });
    assert.deepEqual(user({ imageUser: '1000:29' }), { uid: 1000, gid: 29, additionalGids: [10] });
  });

  it('refuses ids past int32, naming where they came from', () => {
    invalid(() => user({ runAsUsername: PAST_INT32 }), /^config\.linux\.security_context\.run_as_username: 2147483648 is not a valid id/);
    invalid(() => user({ imageUser: PAST_INT32 }), /^image config User "2147483648": 2147483648 is not a valid id/);
    invalid(() => user({ imageUser: `app:${PAST_INT32}` }), /^image config User "app:2147483648": 2147483648 is not a valid id/);
    invalid(() => user({ runAsUser: 2 ** 31 }), /^config\.linux\.security_context\.run_as_user: /);
    invalid(() => user({ runAsGroup: 2 ** 31 }), /^config\.linux\.security_context\.run_as_group: /);
    invalid(() => user({ supplementalGroups: [1, 2 ** 31] }), /^config\.linux\.security_context\.supplemental_groups\[1\]: /);
    assert.equal(user({ runAsUsername: String(2 ** 31 - 1) }).uid, 2 ** 31 - 1);
  });

  it('names the image User in its errors', () => {
    invalid(() => user({ imageUser: 'ghost' }), /^image config User "ghost": user "ghost" not found in the image's \/etc\/passwd$/);
    invalid(() => user({ imageUser: 'app:ghosts' }), /^image config User "app:ghosts": group "ghosts" not found in the image's \/etc\/group$/);
    invalid(() => user({ imageUser: ':www' }), /^image config User ":www": no user before the ":"$/);
    invalid(() => user({ imageUser: ':' }), /no user before the ":"/);
  });

  it('keeps the primary gid first among the process groups, once', () => {
    assert.deepEqual(processGroups({ uid: 1, gid: 5, additionalGids: [6, 5, 7] }), [5, 6, 7]);
    assert.deepEqual(processGroups({ uid: 1, gid: 0, additionalGids: [] }), [0]);
  });
});
