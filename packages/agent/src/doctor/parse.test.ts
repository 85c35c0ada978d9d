import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { predictableNames } from './nics.js';
import {
  extlinuxDefault, grubDefault, ifupdownNames, iptablesVerdict, netplanNames, networkdNames, nftablesVerdict, parseBlkidExport, parseDf,
  parseFstab, parseSshdTest, portExpressionCovers, specTag, sshdSettings, summariseJournal, ufwVerdict,
} from './parse.js';

const lines = (file: string, text: string) => text.split('\n').map((t, i) => ({ file, line: i + 1, text: t }));

describe('doctor parsers', () => {
  it('reads fstab lines, blkid export and tags', () => {
    const entries = parseFstab('# comment\nUUID=abc / ext4 errors=remount-ro 0 1\n\nLABEL="data" /srv\\040data xfs defaults,nofail 0 2\n/dev/sdb1 none swap sw 0 0\n');
    assert.equal(entries.length, 3);
    assert.deepEqual([entries[0]?.line, entries[0]?.spec, entries[0]?.file], [2, 'UUID=abc', '/']);
    assert.equal(entries[1]?.file, '/srv data');
    assert.deepEqual(entries[1]?.options, ['defaults', 'nofail']);
    assert.deepEqual(specTag('/dev/disk/by-partuuid/1234-01'), { key: 'PARTUUID', value: '1234-01' });
    assert.equal(specTag('/dev/sda1'), null);
    const devices = parseBlkidExport('DEVNAME=/dev/vda1\nUUID=ABC-1\nTYPE=ext4\nPARTUUID=9f-01\n\nDEVNAME=/dev/md0\nLABEL=lab-root\nTYPE=ext4\n');
    assert.deepEqual(devices.map((d) => d.devname), ['/dev/vda1', '/dev/md0']);
    assert.equal(devices[1]?.tags.LABEL, 'lab-root');
  });

  it('reads df, sshd -t complaints and sshd settings', () => {
    const df = parseDf('Mounted on              1B-blocks       Used     Avail  Inodes  IUsed  IFree\n/run/x/root 2046820352 1974489088 0 131072 27000 104072\n');
    assert.deepEqual(df[0], { target: '/run/x/root', sizeBytes: 2046820352, usedBytes: 1974489088, availBytes: 0, inodes: 131072, inodesUsed: 27000, inodesFree: 104072 });
    const complaints = parseSshdTest('/etc/ssh/sshd_config: line 124: Bad configuration option: PermitRootLogn\n/etc/ssh/sshd_config.d/x.conf line 2: unsupported option "maybe".\n/etc/ssh/sshd_config: terminating, 1 bad configuration options\n');
    assert.deepEqual(complaints.map((c) => [c.file, c.line]), [['/etc/ssh/sshd_config', 124], ['/etc/ssh/sshd_config.d/x.conf', 2]]);
    const settings = sshdSettings([...lines('/a', 'PermitRootLogin yes\nPort 2222\n'), ...lines('/b', 'PermitRootLogin no\nPort 22\nMatch User x\nPort 99')]);
    assert.deepEqual(settings.ports, [2222, 22]);
    assert.equal(settings.permitRootLogin, 'yes');
    assert.equal(sshdSettings([]).permitRootLogin, 'prohibit-password');
  });

  it('reads nftables rulesets: policy drop, an explicit drop, an accept that saves SSH', () => {
    assert.ok(portExpressionCovers('{ 80, ssh }', 22) && portExpressionCovers('20-30', 22) && !portExpressionCovers('2222', 22));
    const dropAll = 'flush ruleset\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t}\n}\n';
    assert.deepEqual(nftablesVerdict(lines('/etc/nftables.conf', dropAll), 22), { blocked: true, file: '/etc/nftables.conf', line: 4, text: 'type filter hook input priority filter; policy drop;' });
    const allowed = 'table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n  iif lo accept\n  ct state established,related accept\n  tcp dport { 22, 443 } accept\n }\n}\n';
    assert.equal(nftablesVerdict(lines('/f', allowed), 22).blocked, false);
    const rejected = 'table inet filter {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport ssh reject with tcp reset\n }\n}\n';
    assert.deepEqual(nftablesVerdict(lines('/g', rejected), 22), { blocked: true, file: '/g', line: 4, text: 'tcp dport ssh reject with tcp reset' });
    assert.equal(nftablesVerdict(lines('/g', rejected), 2222).blocked, false);
    const added = 'add table inet f\nadd chain inet f input { type filter hook input priority 0; policy accept; }\nadd rule inet f input tcp dport 22 drop\n';
    assert.equal(nftablesVerdict(lines('/h', added), 22).line, 3);
    const forwardOnly = 'table inet filter {\n chain forward {\n  type filter hook forward priority 0; policy drop;\n }\n}\n';
    assert.equal(nftablesVerdict(lines('/i', forwardOnly), 22).blocked, false);
  });

  it('reads iptables-save rules and ufw state', () => {
    const rules = '*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp --dport 22 -j ACCEPT\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j DROP\nCOMMIT\n';
    assert.deepEqual(iptablesVerdict('/etc/iptables/rules.v4', rules, 22), { blocked: true, file: '/etc/iptables/rules.v4', line: 9, text: '-A INPUT -p tcp -m tcp --dport 22 -j DROP' });
    const policy = '*filter\n:INPUT DROP [0:0]\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT\nCOMMIT\n';
    assert.equal(iptablesVerdict('/r', policy, 22).line, 2);
    assert.equal(iptablesVerdict('/r', policy.replace('80,443', '22,80'), 22).blocked, false);
    const conf = { file: '/etc/ufw/ufw.conf', text: 'ENABLED=yes\nLOGLEVEL=low\n' };
    const defaults = { file: '/etc/default/ufw', text: 'IPV6=yes\nDEFAULT_INPUT_POLICY="DROP"\n' };
    const user = { file: '/etc/ufw/user.rules', text: '*filter\n### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 80 -j ACCEPT\n' };
    assert.deepEqual(ufwVerdict({ conf, defaults, userRules: user }, 22), { blocked: true, enabled: true, file: '/etc/default/ufw', line: 2, text: 'DEFAULT_INPUT_POLICY="DROP"' });
    const withSsh = { ...user, text: `${user.text}### tuple ### limit tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n` };
    assert.equal(ufwVerdict({ conf, defaults, userRules: withSsh }, 22).blocked, false);
    assert.equal(ufwVerdict({ conf: { ...conf, text: 'ENABLED=no\n' }, defaults, userRules: user }, 22).enabled, false);
  });

  it('reads the interfaces of networkd, ifupdown and netplan', () => {
    assert.deepEqual(networkdNames('/n', '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n')?.map((n) => n.name), ['en*', 'eth*']);
    assert.equal(networkdNames('/n', '[Network]\nDHCP=yes\n'), null);
    const ifup = ifupdownNames('/etc/network/interfaces', 'source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\nallow-hotplug enp9s0\niface enp9s0 inet dhcp\niface enp9s0:1 inet static\n');
    assert.deepEqual(ifup.names.map((n) => [n.name, n.line]), [['enp9s0', 4], ['enp9s0', 5], ['enp9s0', 6]]);
    assert.deepEqual(ifup.sources, ['/etc/network/interfaces.d/*']);
    const netplan = 'network:\n  version: 2\n  ethernets:\n    enp9s0:\n      dhcp4: true\n    lan:\n      match:\n        macaddress: "52:54:00:12:34:56"\n      set-name: lan\n  bridges:\n    br0: {}\n';
    assert.deepEqual(netplanNames('/etc/netplan/50.yaml', netplan).map((n) => [n.name, n.line, n.mac]), [['enp9s0', 4, undefined], ['*', 6, '52:54:00:12:34:56']]);
  });

  it('finds the default boot entry of extlinux and GRUB', () => {
    const ext = extlinuxDefault('/boot/extlinux/extlinux.conf', 'DEFAULT debian\nPROMPT 0\nLABEL old\n  LINUX /boot/vmlinuz-old\nLABEL debian\n  LINUX /boot/vmlinuz-6.1.0-35-amd64\n  INITRD /boot/initrd.img-6.1.0-35-amd64\n  APPEND root=UUID=x ro\n');
    assert.deepEqual([ext?.label, ext?.kernel?.path, ext?.kernel?.line, ext?.initrds[0]?.path], ['debian', '/boot/vmlinuz-6.1.0-35-amd64', 6, '/boot/initrd.img-6.1.0-35-amd64']);
    const grub = "set default=\"1\"\nmenuentry 'Debian' --class debian $menuentry_id_option 'gnulinux-simple-x' {\n\tlinux\t/vmlinuz-6.1 root=UUID=x ro\n\tinitrd\t/initrd.img-6.1\n}\nsubmenu 'Advanced' {\n\tmenuentry 'Debian old' {\n\t\tlinux /vmlinuz-5\n\t}\n}\n";
    // entry 1 is the submenu (no kernel of its own): the first entry is taken
    assert.equal(grubDefault('/boot/grub/grub.cfg', grub, null)?.kernel?.path, '/vmlinuz-6.1');
    const saved = grub.replace('set default="1"', 'set default="${saved_entry}"');
    assert.equal(grubDefault('/boot/grub/grub.cfg', saved, 'saved_entry=gnulinux-simple-x\n')?.initrds[0]?.path, '/initrd.img-6.1');
  });

  it('summarises journal errors and names NICs as udev would', () => {
    const summary = summariseJournal('Nov 30 14:00:01 lab systemd[1]: Failed to mount /data.\nNov 30 14:00:02 lab systemd[1]: Failed to mount /data.\nNov 30 14:00:03 lab kernel: EXT4-fs error\n');
    assert.deepEqual([summary.count, summary.distinct.length], [3, 2]);
    assert.deepEqual(predictableNames({ kernelName: 'eth0', mac: '52:54:00:12:34:56', pciAddress: '0000:00:03.0', onboardIndex: null, slot: '3', devPort: 0 }), {
      names: ['ens3', 'enp0s3', 'enx525400123456', 'eth0'],
      preferred: 'ens3',
    });
    assert.equal(predictableNames({ kernelName: 'eth1', mac: '', pciAddress: '0000:3b:00.1', onboardIndex: 2, slot: null, devPort: 0 }).preferred, 'eno2');
    assert.equal(predictableNames({ kernelName: 'eth1', mac: '', pciAddress: '0000:3b:00.1', onboardIndex: null, slot: null, devPort: 0 }).preferred, 'enp59s0f1');
  });
});
