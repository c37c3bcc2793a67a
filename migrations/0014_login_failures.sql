-- 0014_login_failures.sql — the sign-in limits count failed attempts only
-- (issue 18: ten successful sign-ins in 15 minutes locked an account).  Each
-- attempt is still counted when it starts (rate_hit), so a flood is refused
-- before its passwords are hashed; a right password gives the hit back
-- (rate_refund, functions/accounts.sql).  The settings keep their values;
-- their descriptions say what is counted now.
UPDATE settings SET description = '每个IP每分钟登录失败次数上限（达到后暂停登录，至时间窗结束）'
WHERE key = 'login_limit_per_ip';
UPDATE settings SET description = '每个账号15分钟内登录失败次数上限（达到后暂停登录，至时间窗结束）'
WHERE key = 'login_limit_per_account';
