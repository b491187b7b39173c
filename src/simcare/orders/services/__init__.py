"""State changes of money, one module per concept (every function @transaction.atomic).

- ordering: place, settle, fulfil, cancel, fail and refund orders; the renewal service
- vouchers: batches, one-time PIN export, redemption with lockout, voiding
- cards, paypal: Stripe Checkout and saved cards, PayPal Orders
- receipts: numbering and rendering receipts
- autorenew: the auto_renew job and the data auto-top-up
"""
