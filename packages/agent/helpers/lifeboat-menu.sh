# /etc/profile.d/lifeboat-menu.sh: show the rescue menu once per interactive login.
case $- in
  *i*) [ -x /usr/local/sbin/rescue-menu ] && /usr/local/sbin/rescue-menu ;;
esac
