"""What every data screen shares: the title line, the data bar, language and refresh hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen
from textual.widgets import Static

from blt_status.i18n import _
from tui.bindings import relabel
from tui.widgets.data_bar import DataBar, render_data_bar

if TYPE_CHECKING:
    from tui.app import BltApp
    from tui.session import Session


class BltScreen(Screen[None]):
    """A screen of the unlocked app; ``refresh_view`` redraws it from the session."""

    TITLE = ""  # the screen's name (an English source text marked with N_)

    @property
    def blt(self) -> BltApp:
        return cast("BltApp", self.app)

    @property
    def lang(self) -> str:
        return self.blt.lang

    @property
    def session(self) -> Session | None:
        return self.blt.session

    def title_bar(self) -> Static:
        return Static(self._title_text(), id="title-bar", classes="title-bar")

    def _title_text(self) -> str:
        name = _(self.TITLE) if self.TITLE else ""
        return f"{_('BLT Pangan — Village Officer')} · {name}"

    def on_mount(self) -> None:
        """Label the footer in the session's language and draw the current data."""
        self.refresh_view()

    def refresh_view(self) -> None:
        """Redraw language-dependent text and the data bar (subclasses add their parts)."""
        relabel(self)
        self.refresh_bindings()
        for bar in self.query("#title-bar").results(Static):
            bar.update(self._title_text())
        self.update_data_bar()

    def update_data_bar(self) -> None:
        session = self.session
        today = self.blt.now().astimezone().date()
        today_count = session.today_count(today) if session else None
        for bar in self.query(DataBar):
            bar.update(render_data_bar(session.meta if session else None, self.lang,
                                       now=self.blt.now(), today_count=today_count))
